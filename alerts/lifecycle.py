"""An alert's life after its draft: second-person approval, 取消 (cancel: it was a mistake),
解除 (lift: the order ends) and 訂正 (correct)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from alerts.delivery import same_operator, start_delivery
from alerts.drafts import create_alert
from alerts.errors import (
    AlertError,
    AlertExpired,
    AlreadyCancelled,
    AlreadySent,
    CancelNotConfirmed,
    SelfApprovalRefused,
    Withdrawn,
)
from alerts.records import get_alert
from alerts.render import compose, text_lang_for, texts_for
from store import alerts as alert_store
from store import audit
from store.vocab import ALERT_STARTED, ALERT_UNSENT, AlertKind, AlertState, MsgType


def approve(db: Database, alert_id: int, by: str, source: str = "cli") -> None:
    """Second-person approval (also re-approval of a stale draft)."""
    alert = get_alert(db, alert_id)
    if alert["state"] in ALERT_STARTED:
        raise AlreadySent(alert["state"])
    if alert["state"] == AlertState.WITHDRAWN:
        raise Withdrawn()
    if not by or same_operator(by, alert["created_by"]):
        audit.record(db, by or "-", "alert.approve_refused", f"alert:{alert_id}", {"reason": "self"}, source)
        raise SelfApprovalRefused()
    if alert["expires_at"] is not None and alert["expires_at"] <= time.time():
        raise AlertExpired()
    if not alert_store.update_alert(
        db,
        alert_id,
        expect_state=ALERT_UNSENT,
        state=AlertState.APPROVED,
        approved_by=by.strip(),
        approved_at=time.time(),
    ):
        raise AlreadySent(get_alert(db, alert_id)["state"])
    audit.record(db, by, "alert.approve", f"alert:{alert_id}", {"status": alert["status"]}, source)


def _cancel_messages(ref: Mapping[str, Any], body: str = "") -> dict[str, list[dict[str, Any]]]:
    """The exact messages of a 取消 of `ref`, per language (the fixed text, plus `body` if given)."""
    ref_texts = texts_for(ref)
    return {lang: compose(lang, ref["status"], MsgType.CANCEL, "", body, h) for lang, (h, _) in ref_texts.items()}


def cancel_preview(db: Database, alert_id: int) -> dict[str, Any]:
    """What a 取消 of a sent alert sends and to how many people: shown before the operator confirms.

    `groups` are the fixed text per language with the number of people who get it (exactly those
    the alert may have reached); `unsent` recipients have not been sent the alert yet: their
    part is withdrawn instead, and they get nothing.
    """
    alert = get_alert(db, alert_id)
    _check_cancellable(db, alert)
    messages = _cancel_messages(alert)
    counts: dict[str, int] = {}
    for _uid, orig_lang in alert_store.reached_recipients(db, alert_id):
        lang = text_lang_for(orig_lang, messages)
        counts[lang] = counts.get(lang, 0) + 1
    groups = [
        {"lang": lang, "count": n, "messages": messages[lang], "fallback_from": None}
        for lang, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {
        "alert_id": alert_id,
        "title": alert["title"],
        "status": alert["status"],
        "status_label": alert["status_label"],
        "recipient_count": sum(counts.values()),
        "unsent": alert_store.unsent_count(db, alert_id),
        "groups": groups,
        "texts": messages,
    }


def _check_cancellable(db: Database, alert: Mapping[str, Any]) -> None:
    if alert["msg_type"] == MsgType.CANCEL:
        raise AlertError("取消の配信はさらに取り消せません。")
    if alert["state"] == AlertState.WITHDRAWN:
        raise Withdrawn()
    existing = alert_store.cancels_of(db, alert["id"])
    if existing:
        raise AlreadyCancelled(existing[0])


def cancel(
    db: Database,
    alert_id: int,
    by: str,
    body: str | None = None,
    source: str = "cli",
    *,
    confirmed: bool = False,
) -> int:
    """取消 (the alert was a mistake): a Cancel referencing it, to exactly the people it reached.

    - A draft or approved alert that was never sent is simply withdrawn; its own id is returned.
    - The fixed text (`body` empty) needs no second person — speed matters when a wrong alert
      went out — but `confirmed` must say the operator saw `cancel_preview` (exact text and
      count); delivery starts at once and the unsent part of the original is withdrawn.
    - Any free text (`body`) makes the cancellation a draft that another person approves, like a
      correction: one person alone can never send words of their own.
    """
    alert = get_alert(db, alert_id)
    by = (by or "").strip()
    if alert["state"] == AlertState.WITHDRAWN:
        raise Withdrawn()
    if alert["state"] in ALERT_UNSENT:
        # Any unsent draft (a cancellation or lift draft too) is simply withdrawn.
        if not alert_store.update_alert(db, alert_id, expect_state=ALERT_UNSENT, state=AlertState.WITHDRAWN):
            raise AlreadySent(get_alert(db, alert_id)["state"])
        audit.record(db, by or "-", "alert.withdraw", f"alert:{alert_id}", None, source)
        return alert_id
    _check_cancellable(db, alert)
    body = (body or "").strip()
    if body:
        cancel_id = create_alert(
            db, by=by, body=body, msg_type=MsgType.CANCEL, references=alert_id, status=alert["status"], source=source
        )
        audit.record(db, by, "alert.cancel_draft", f"alert:{alert_id}", {"cancel_alert": cancel_id}, source)
        return cancel_id
    if not confirmed:
        raise CancelNotConfirmed()
    cancel_id = create_alert(
        db, by=by, msg_type=MsgType.CANCEL, references=alert_id, status=alert["status"], source=source
    )
    alert_store.update_alert(db, cancel_id, state=AlertState.APPROVED, approved_by=by, approved_at=time.time())
    audit.record(
        db,
        by,
        "alert.cancel",
        f"alert:{alert_id}",
        {"cancel_alert": cancel_id, "recipients": cancel_preview_count(db, alert_id)},
        source,
    )
    try:
        start_delivery(db, cancel_id, by, source=source)
    except AlertError:
        # Another operator's cancellation went out first: this one is withdrawn, never left approved.
        alert_store.update_alert(db, cancel_id, expect_state=(AlertState.APPROVED,), state=AlertState.WITHDRAWN)
        raise
    return cancel_id


def cancel_preview_count(db: Database, alert_id: int) -> int:
    return len(alert_store.reached_recipients(db, alert_id))


LIFTABLE = ("evac_level3", "evac_level4", "evac_level5")


def lift(db: Database, alert_id: int, by: str, source: str = "cli") -> int:
    """解除 (the order ends; it was right): an Update draft referencing the order, in every language.

    Approved by a second person and sent like any alert, to exactly the people the order reached.
    """
    alert = get_alert(db, alert_id)
    if alert["msg_type"] == MsgType.CANCEL or alert["template"] == AlertKind.LIFT:
        raise AlertError("解除できるのは避難情報の配信です。")
    if alert["template"] not in LIFTABLE:
        raise AlertError(
            "解除できるのは避難情報（警戒レベル3〜5）の配信です。ほかの配信は「訂正を作る」か「取り消す」を使ってください。"
        )
    if alert["state"] not in ALERT_STARTED:
        raise AlertError("まだ送信していない避難情報は、解除ではなく取り下げてください。")
    existing = alert_store.cancels_of(db, alert_id)
    if existing:
        raise AlreadyCancelled(existing[0])
    for other in alert_store.updates_of(db, alert_id):
        if other["template"] == AlertKind.LIFT and other["state"] != AlertState.WITHDRAWN:
            raise AlertError(f"この避難情報の解除はすでに作成されています（#{other['id']}）。")
        if other["template"] != AlertKind.LIFT and other["state"] in ALERT_STARTED:
            raise AlertError(f"この避難情報は訂正されています。訂正の配信（#{other['id']}）を解除してください。")
    fields = {
        "areas": alert["fields"].get("areas", ""),
        "order": alert["template"],
        "hazard": alert["hazard"] or alert["fields"].get("hazard", ""),
    }
    lift_id = create_alert(
        db,
        by=by,
        template=AlertKind.LIFT,
        fields=fields,
        msg_type=MsgType.UPDATE,
        references=alert_id,
        status=alert["status"],
        source=source,
    )
    audit.record(db, by, "alert.lift_draft", f"alert:{alert_id}", {"lift_alert": lift_id}, source)
    return lift_id


def correct(
    db: Database,
    alert_id: int,
    by: str,
    *,
    headline: str | None = None,
    body: str | None = None,
    fields: Mapping[str, Any] | None = None,
    source: str = "cli",
) -> int:
    """An Update draft referencing a sent alert, for the same recipients; needs approval like any alert."""
    alert = get_alert(db, alert_id)
    if alert["state"] not in ALERT_STARTED:
        raise AlertError("まだ送信していない警報は、訂正ではなく取り下げて作り直してください。")
    template = None
    if alert["template"] and headline is None and body is None:
        # Template correction: only the changed fields are given; the rest stays as sent.
        template, fields = alert["template"], {**alert["fields"], **dict(fields or {})}
    else:
        # Free-text correction: an unchanged headline (or free-text body) is taken from the original.
        headline = headline if headline is not None else alert["headline"]
        body = body if body is not None else alert["fields"].get("body", "")
    return create_alert(
        db,
        by=by,
        headline=headline,
        body=body,
        fields=fields,
        template=template,
        msg_type=MsgType.UPDATE,
        references=alert_id,
        status=alert["status"],
        source=source,
    )
