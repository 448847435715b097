"""The evening-before reminder: one outbox alert per area and collection day, in each resident's
language, through the alerts outbox (the delivery worker sends it, exactly once per resident).

Never at night: reminders are made only between EVENING_START and EVENING_END ward time, and
expire at EVENING_END, so a backlog is dropped rather than delivered while people sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

import wardtime
from garbage.calendar import area_days
from garbage.model import GarbageSet
from garbage.service import resolve_area
from store import alerts as alert_store
from store import garbage as garbage_store
from store.vocab import AlertState, AlertStatus, MsgType

EVENING_START = 17  # hour, ward time
EVENING_END = 21
BY = "system:garbage-reminder"

# (lang, area name, tomorrow's date, categories) → (headline, text)
Compose = Callable[[str, str, str, list[str]], tuple[str, str]]


class NotEvening(Exception):
    """Reminders are only made in the evening (ward time)."""


@dataclass
class Made:
    area: str
    day: str
    categories: list[str]
    recipients: int
    alert_id: int | None


def make_reminders(
    db: Database,
    gset: GarbageSet,
    area_names: Mapping[str, str],
    languages: list[str],
    compose: Compose,
    now: datetime | None = None,
) -> list[Made]:
    """Create tomorrow's reminders (idempotent: an area and day is reminded once)."""
    tz = wardtime.ward_zone()
    local = (now or datetime.now(tz)).astimezone(tz)
    if not EVENING_START <= local.hour < EVENING_END:
        raise NotEvening(f"{local:%H:%M} is outside {EVENING_START}:00–{EVENING_END}:00 ({tz.key})")
    tomorrow = local.date() + timedelta(days=1)
    expires = local.replace(hour=EVENING_END, minute=0, second=0, microsecond=0).timestamp()
    made: list[Made] = []
    names = dict(area_names)
    for code in names:
        area = resolve_area(gset, code, names)
        if area is None:
            continue
        labels = area_days(gset, area, tomorrow, tomorrow).get(tomorrow)
        if not labels:
            continue
        recipients = garbage_store.reminder_recipients(db, code)
        if not recipients:
            continue
        if not garbage_store.claim_reminder(db, code, tomorrow.isoformat()):
            continue  # an earlier run made it
        try:
            alert_id = _outbox(
                db, code, area.name, tomorrow.isoformat(), labels, recipients, languages, compose, expires
            )
        except Exception:
            garbage_store.release_reminder(db, code, tomorrow.isoformat())
            raise
        garbage_store.record_reminder_alert(db, code, tomorrow.isoformat(), alert_id)
        made.append(Made(code, tomorrow.isoformat(), labels, len(recipients), alert_id))
    return made


def _outbox(
    db: Database,
    code: str,
    area_name: str,
    day: str,
    labels: list[str],
    recipients: list[tuple[str, str | None]],
    languages: list[str],
    compose: Compose,
    expires: float,
) -> int:
    now = time.time()
    texts = {}
    for lang in languages:
        headline, text = compose(lang, area_name, day, labels)
        texts[lang] = [{"type": "text", "text": text}]
    row = {
        "created_at": now,
        "created_by": BY,
        "status": AlertStatus.ACTUAL,
        "msg_type": MsgType.ALERT,
        "event": "garbage_reminder",
        "severity": "Minor",
        "headline": compose("ja", area_name, day, labels)[0],
        "areas": [code],
        "topics": ["garbage"],
        "expires_at": expires,
        "state": AlertState.APPROVED,
        # A routine reminder from the ward's own calendar: no second person approves it.
        "approved_by": BY,
        "approved_at": now,
    }
    alert_id = alert_store.insert_alert(db, row, texts)
    groups: dict[str, list[str]] = {}
    for uid, lang in recipients:
        groups.setdefault(lang if lang in texts else "ja", []).append(uid)
    alert_store.create_outbox(db, alert_id, sorted(groups.items()), by=BY)
    return alert_id
