"""Give every resident the menu they should see now: normal or disaster, in their language.

The menu a resident should see follows from data we already hold — their area and language,
and the live Actual alerts of 警戒レベル3 or higher or shelter openings (the same rule as the
chat's disaster notice). So instead of queueing "switch on" and "switch back" jobs that could be
lost or replayed out of order, the delivery worker reconciles: it compares what each resident
should see with the link it last made (`richmenu_links`) and sends only the difference, in bulk
requests of ≤ 500 users. A cancelled, lifted or expired alert simply stops being live, and the
next pass switches its residents back. A crash mid-pass loses nothing: the links not yet
recorded are sent again (linking is idempotent at LINE, which is why no retry key is needed —
LINE accepts X-Line-Retry-Key on message sends only). 429 and 5xx back off and retry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from common.delivery import backoff_delay
from common.line_api import LineApi, LineApiError
from richmenu.spec import LANGS
from richmenu.sync import DEFAULT_KEY
from store import Store
from store import alerts as alert_store
from store import richmenu as menu_store
from store.vocab import AlertKind

log = logging.getLogger(__name__)
BULK_MAX = 500  # LINE: userIds per bulk link/unlink request
FULL_PASS_SECONDS = 60.0  # a full comparison at least this often, whatever changed
LEASE_SECONDS = 30.0


def is_disaster_trigger(alert: Mapping[str, Any]) -> bool:
    """An Actual alert that puts its areas in disaster mode (live rows only are passed in)."""
    if alert.get("test_audience"):
        return False
    template = alert.get("template") or ""
    if AlertKind.LIFT in template or "kaijo" in template:
        return False  # 解除: the order ended
    return (alert.get("level") or 0) >= 3 or template == "shelter_open"


@dataclass(frozen=True)
class Scope:
    """Where disaster mode is on: everywhere, or in these areas."""

    everywhere: bool = False
    areas: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return self.everywhere or bool(self.areas)

    def covers(self, area: str | None) -> bool:
        # A resident with no area receives every area's alerts, so gets the disaster menu too.
        return self.everywhere or (bool(self.areas) and (area is None or area in self.areas))


def disaster_scope(db: Database, now: float | None = None) -> Scope:
    everywhere, areas = False, set()
    for row in alert_store.active_alert_rows(db, now):
        if not is_disaster_trigger(row):
            continue
        if row["areas"]:
            areas.update(row["areas"])
        else:
            everywhere = True
    return Scope(everywhere, frozenset(areas))


def desired_key(scope: Scope, area: str | None, lang: str | None) -> str:
    mode = "disaster" if scope.covers(area) else "normal"
    return f"{mode}:{lang if lang in LANGS else 'ja'}"


@dataclass
class PassResult:
    linked: int = 0
    unlinked: int = 0
    requests: int = 0
    pending: int = 0
    changes: dict[str, int] = field(default_factory=dict)


def plan_changes(
    rows: Iterable[tuple[str, str | None, str | None, str | None]], scope: Scope, menu_ids: dict[str, str]
) -> dict[str | None, list[str]]:
    """Pure: target richMenuId (None = the account default) → residents to move there."""
    default_id = menu_ids.get(DEFAULT_KEY)
    out: dict[str | None, list[str]] = defaultdict(list)
    for user_id, area, lang, linked in rows:
        target = menu_ids.get(desired_key(scope, area, lang))
        if target is None or target == default_id:
            target = None  # the default needs no per-user link
        if target != linked:
            out[target].append(user_id)
    return out


def reconcile(db: Database, line: LineApi, now: float | None = None) -> PassResult:
    """One pass: link or unlink every resident whose menu is not what it should be.

    Raises LineApiError on 429/5xx after recording what was done, so the caller backs off.
    """
    result = PassResult()
    menus = menu_store.menus(db)
    if DEFAULT_KEY not in menus:
        return result  # `richmenu sync` has not run: nothing to switch
    menu_ids = {key: line_id for key, (line_id, _) in menus.items()}
    changes = plan_changes(menu_store.residents_with_links(db), disaster_scope(db, now), menu_ids)
    result.pending = sum(len(v) for v in changes.values())
    by_id = {line_id: key for key, line_id in menu_ids.items()}
    for target, users in changes.items():
        result.changes[by_id.get(target, "default") if target else "default"] = len(users)
        for i in range(0, len(users), BULK_MAX):
            chunk = users[i : i + BULK_MAX]
            if target is None:
                line.unlink_rich_menu(chunk)
                result.unlinked += len(chunk)
            else:
                line.link_rich_menu(chunk, target)
                result.linked += len(chunk)
            result.requests += 1
            menu_store.record_links(db, chunk, target)
            result.pending -= len(chunk)
    return result


def run(
    store: Store,
    line: LineApi,
    stop_event: threading.Event,
    poll_seconds: float = 2.0,
    holder: str | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """The reconciler loop (a thread of the delivery worker); one holder at a time per database."""
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:richmenu"
    last_signature: tuple | None = None
    last_full = 0.0
    failures = 0
    while not stop_event.is_set():
        try:
            db = store.db
            if not menu_store.take_lease(db, holder, LEASE_SECONDS):
                stop_event.wait(poll_seconds)
                continue
            scope = disaster_scope(db)
            signature = (scope, menu_store.residents_signature(db), tuple(sorted(menu_store.menus(db).items())))
            if signature != last_signature or clock() - last_full >= FULL_PASS_SECONDS:
                result = reconcile(db, line)
                last_signature, last_full, failures = signature, clock(), 0
                if result.requests:
                    log.info("rich menus switched: %s", result.changes)
        except LineApiError as err:
            failures += 1
            delay = backoff_delay(failures, 2.0, 60.0)
            log.warning("rich-menu switch: LINE %s, retry in %.1fs", err.status, delay)
            last_signature = None
            stop_event.wait(delay)
            continue
        except Exception:  # the delivery worker must keep running
            log.exception("rich-menu reconcile failed")
            last_signature = None
        stop_event.wait(poll_seconds)
    store.close_thread_connection()
