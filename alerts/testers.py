"""The staff test audience: LINE user ids of staff phones that exercise/test alerts may be limited to."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from alerts.errors import InvalidAlert
from alerts.vocab import FIELD_MAX
from common.pseudonym import hash_user
from store import alerts as alert_store
from store import audit


def _tester_ref(user_id: str, secret: str) -> str:
    """Audit target for a tester: a pseudonym (salted with the app's secret), so the append-only
    log keeps no LINE user id."""
    if not secret:
        raise ValueError("the pseudonym needs the app's SECRET_KEY")
    return "tester:" + hash_user(user_id, secret)


def _check_user_id(user_id: str) -> str:
    user_id = (user_id or "").strip()
    if not user_id.startswith("U") or len(user_id) > 64 or not user_id[1:].replace("_", "").replace("-", "").isalnum():
        raise InvalidAlert([f"LINE のユーザーID（U で始まる英数字）を指定してください: {user_id!r}"])
    return user_id


def add_tester(
    db: Database, user_id: str, by: str, note: str | None = None, source: str = "cli", *, secret: str
) -> bool:
    """Put a staff phone (LINE user id) in the test audience; False when it was already there (note updated)."""
    user_id = _check_user_id(user_id)
    ref = _tester_ref(user_id, secret)  # before any write: no change goes unaudited
    if not (by or "").strip():
        raise InvalidAlert(["登録する担当者を入力してください"])
    note = (note or "").strip()[:FIELD_MAX] or None
    created = alert_store.add_tester(db, user_id, by.strip(), note)
    audit.record(db, by.strip(), "alert.tester_add" if created else "alert.tester_update", ref, {"note": note}, source)
    return created


def remove_tester(db: Database, user_id: str, by: str, source: str = "cli", *, secret: str) -> bool:
    """Take a LINE user id out of the test audience; False when it was not in it."""
    user_id = (user_id or "").strip()
    ref = _tester_ref(user_id, secret)
    removed = alert_store.remove_tester(db, user_id)
    if removed:
        audit.record(db, (by or "-").strip(), "alert.tester_remove", ref, None, source)
    return removed


def list_testers(db: Database) -> list[dict[str, Any]]:
    """The test audience with whether each id currently follows the account (is a subscriber)."""
    return alert_store.list_testers(db)
