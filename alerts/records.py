"""Reading alerts: one or a list with their labels, delivery progress, the live alerts of an area."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from alerts.areas import label_names
from alerts.errors import UnknownAlert
from alerts.render import AlertView, texts_for, view
from store import alerts as alert_store
from store.vocab import ALERT_STARTED, AlertKind, DeliveryState


def get_alert(db: Database, alert_id: int | None) -> AlertView:
    """One alert with its labels and per-language messages."""
    row = alert_store.get_alert(db, alert_id) if alert_id is not None else None
    if row is None:
        raise UnknownAlert(alert_id)  # type: ignore[arg-type]
    refs = alert_store.headlines(db, [row["references_id"]] if row["references_id"] else [])
    return view(row, refs, label_names(), alert_store.alert_texts(db, row["id"]))


def list_alerts(db: Database, limit: int = 50) -> list[AlertView]:
    """The newest alerts with their labels (without texts: a list shows titles)."""
    rows = alert_store.list_alerts(db, limit)
    refs = alert_store.headlines(db, [r["references_id"] for r in rows if r["references_id"]])
    names = label_names()
    return [view(row, refs, names) for row in rows]


def status(db: Database, alert_id: int) -> dict[str, Any]:
    """Delivery progress: total / sent / pending / failed recipients, state, and what to do."""
    alert = get_alert(db, alert_id)
    counts = alert_store.delivery_counts(db, alert_id)
    out = {
        "id": alert_id,
        "total": counts["total"],
        "sent": counts[DeliveryState.SENT],
        "pending": counts[DeliveryState.PENDING],
        "failed": counts[DeliveryState.FAILED],
        "withdrawn": counts[DeliveryState.WITHDRAWN],
        "batches": counts["batches"],
        "attempts": counts["attempts"],
        "state": alert["state"],
        "state_label": alert["state_label"],
        "status": alert["status"],
        "msg_type": alert["msg_type"],
        "kind": alert["kind"],
        "kind_label": alert["kind_label"],
        "message": alert["stop_reason"],
        "cancelled_by": (alert_store.cancels_of(db, alert_id) or [None])[0],
        "lifted_by": next(
            (
                u["id"]
                for u in alert_store.updates_of(db, alert_id)
                if u["template"] == AlertKind.LIFT and u["state"] in ALERT_STARTED
            ),
            None,
        ),
    }
    return out


def active_alerts_for(db: Database, area_code: str | None) -> list[dict[str, Any]]:
    """Actual alerts of level ≥3 or shelter openings, live and not cancelled, covering the area."""
    out = []
    for row in alert_store.active_alert_rows(db):
        if not ((row["level"] or 0) >= 3 or row["template"] == "shelter_open"):
            continue
        if row["areas"] and area_code is not None and area_code not in row["areas"]:
            continue
        texts = texts_for(row)
        out.append(
            {
                "id": row["id"],
                "template": row["template"],
                "event": row["event"],
                "level": row["level"],
                "hazard": row["hazard"],
                "areas": row["areas"],
                "headline": row["headline"],
                "headlines": {lang: h for lang, (h, _) in texts.items()},
                "created_at": row["created_at"],
                "expires_at": row["expires_at"],
            }
        )
    return out
