"""Starting and resuming delivery: the recipient list fixed into outbox batches (the worker sends them)."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from alerts.audience import recipient_groups, shelter_guide_groups
from alerts.errors import (
    EXPIRED_MESSAGE,
    AlertExpired,
    AlertStale,
    AlreadyCancelled,
    AlreadySent,
    NotApproved,
    SelfApprovalRefused,
    Withdrawn,
)
from alerts.guide import with_shelter_guide
from alerts.records import get_alert
from alerts.vocab import DEFAULT_STALE_MINUTES
from store import alerts as alert_store
from store import audit
from store.vocab import ALERT_STARTED, AlertState, MsgType


def same_operator(a: str | None, b: str | None) -> bool:
    """Operator names compared loosely ("Tanaka " is "tanaka", full-width ｔａｎａｋａ too)."""

    def norm(x: str | None) -> str:
        return unicodedata.normalize("NFKC", x or "").strip().casefold()

    return norm(a) == norm(b)


def start_delivery(
    db: Database,
    alert_id: int,
    by: str,
    *,
    stale_minutes: float = DEFAULT_STALE_MINUTES,
    batch_size: int = 500,
    source: str = "cli",
) -> None:
    """Fix the recipient list into outbox batches (each with its retry key); the worker sends them."""
    alert = get_alert(db, alert_id)
    now = time.time()
    _check_sendable(alert, stale_minutes, now)
    if alert["msg_type"] in (MsgType.CANCEL, MsgType.UPDATE):
        # Nothing more goes out about an alert that was cancelled (a lift or correction drafted
        # before, or a second cancellation racing the first).
        existing = alert_store.cancels_of(db, alert["references_id"])
        if existing:
            raise AlreadyCancelled(existing[0])
    if alert["msg_type"] == MsgType.CANCEL:
        # The mistaken alert's batches not attempted yet are withdrawn: nobody else gets it.
        withdrawn = alert_store.withdraw_pending(db, alert["references_id"])
        if withdrawn:
            audit.record(
                db, by, "alert.withdraw_unsent", f"alert:{alert['references_id']}", {"recipients": withdrawn}, source
            )
    if with_shelter_guide(alert):
        outbox = shelter_guide_groups(db, alert)
    else:
        groups = recipient_groups(db, alert, alert["texts"])
        by_text: dict[str, list[str]] = {}
        for (text_lang, _), ids in groups.items():
            by_text.setdefault(text_lang, []).extend(ids)
        outbox = sorted(by_text.items())
    try:
        total = alert_store.create_outbox(db, alert_id, outbox, by, batch_size=batch_size, now=now)
    except LookupError:
        raise AlreadySent(get_alert(db, alert_id)["state"]) from None
    audit.record(db, by, "alert.send", f"alert:{alert_id}", {"recipients": total, "status": alert["status"]}, source)
    if alert["msg_type"] == MsgType.CANCEL:
        # Other cancellation drafts of the same alert (free text still awaiting approval) are moot now.
        for other in alert_store.withdraw_drafts_referencing(db, alert["references_id"], MsgType.CANCEL, keep=alert_id):
            audit.record(db, by, "alert.withdraw", f"alert:{other}", {"reason": "already cancelled"}, source)


def _check_sendable(alert: Mapping[str, Any], stale_minutes: float, now: float) -> None:
    """Approved by a second person, not expired, approved recently enough (a stale approval is redone)."""
    if alert["state"] in ALERT_STARTED:
        raise AlreadySent(alert["state"])
    if alert["state"] == AlertState.WITHDRAWN:
        raise Withdrawn()
    if alert["state"] != AlertState.APPROVED or not alert["approved_by"]:
        raise NotApproved()
    # Only a cancellation with nothing but its fixed text is sent by one person.
    fixed_cancel = alert["msg_type"] == MsgType.CANCEL and not alert["fields"].get("body")
    if not fixed_cancel and same_operator(alert["approved_by"], alert["created_by"]):
        raise SelfApprovalRefused()
    if alert["expires_at"] is not None and alert["expires_at"] <= now:
        raise AlertExpired()
    stale = float(stale_minutes)
    if not fixed_cancel and now - alert["approved_at"] > stale * 60:
        raise AlertStale(stale)


def resume(db: Database, alert_id: int, by: str, source: str = "cli") -> bool:
    """Continue an alert stopped by the monthly quota (after the operator raised the limit).

    An alert that expired meanwhile is not resumed: its unsent part is withdrawn instead.
    """
    alert = get_alert(db, alert_id)
    if alert["state"] == AlertState.STOPPED and alert["expires_at"] is not None and alert["expires_at"] <= time.time():
        alert_store.expire_overdue(db, EXPIRED_MESSAGE)
        audit.record(db, by, "alert.resume_refused", f"alert:{alert_id}", {"reason": "expired"}, source)
        raise AlertExpired()
    ok = alert_store.resume_alert(db, alert_id)
    if ok:
        audit.record(db, by, "alert.resume", f"alert:{alert_id}", None, source)
    return ok
