"""SQL for the shared message outbox: multicast batches and single pushes of any feature.

A feature (a survey's invitation, a reply to a resident's opinion, …) writes its messages here in
the same transaction as the row that describes them; the outbox sender (outbox/sender.py, a
thread of the delivery worker) claims them under a lease with one atomic UPDATE … RETURNING
(FOR UPDATE SKIP LOCKED on PostgreSQL), sends each with its stored X-Line-Retry-Key and records
the outcome. `kind` + `ref` say whose messages they are (`survey` 12, `opinion_reply` 40, …).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database, Migrations

from store import transaction
from store.dialect import skip_locked
from store.vocab import DeliveryState

migrations = Migrations("madoguchi.outbox")

MULTICAST_MAX = 500  # LINE: recipients per multicast


@migrations(name="0001_outbox")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE outbox_batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            ref INTEGER NOT NULL,
            lang TEXT NOT NULL,
            messages_json TEXT NOT NULL,
            retry_key TEXT NOT NULL UNIQUE,
            n INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            claimed_by TEXT,
            lease_until REAL,
            last_status INTEGER,
            last_error TEXT,
            created_at REAL NOT NULL,
            sent_at REAL
        )"""
    )
    db.execute("CREATE INDEX outbox_batches_claim ON outbox_batches(status, next_attempt_at)")
    db.execute("CREATE INDEX outbox_batches_ref ON outbox_batches(kind, ref, status)")
    db.execute(
        """CREATE TABLE outbox_recipients (
            batch_id INTEGER NOT NULL REFERENCES outbox_batches(id),
            user_id TEXT NOT NULL,
            PRIMARY KEY (batch_id, user_id)
        )"""
    )
    db.execute("CREATE INDEX outbox_recipients_user ON outbox_recipients(user_id)")


def enqueue_multicast(
    db: Database, kind: str, ref: int, groups: dict[str, tuple[list[dict[str, Any]], Sequence[str]]]
) -> int:
    """Queue `messages` to `user_ids` per language group, ≤ 500 per batch; returns the batch count.

    Call inside the caller's transaction so the outbox and the row it serves commit together.
    """
    now = time.time()
    batches = 0
    for lang, (messages, user_ids) in groups.items():
        ids = list(user_ids)
        for i in range(0, len(ids), MULTICAST_MAX):
            chunk = ids[i : i + MULTICAST_MAX]
            cur = db.execute(
                "INSERT INTO outbox_batches (kind, ref, lang, messages_json, retry_key, n, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [kind, ref, lang, json.dumps(messages, ensure_ascii=False), str(uuid.uuid4()), len(chunk), now],
            )
            batch_id = cur.fetchone()[0]
            for uid in chunk:
                db.execute("INSERT INTO outbox_recipients (batch_id, user_id) VALUES (?, ?)", [batch_id, uid])
            batches += 1
    return batches


def enqueue_push(db: Database, kind: str, ref: int, user_id: str, messages: list[dict[str, Any]], lang: str) -> int:
    """One push to one resident (a batch of one, sent with push instead of multicast)."""
    return enqueue_multicast(db, kind, ref, {lang: (messages, [user_id])})


def renew_lease(db: Database, batch_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Extend the lease of a batch this worker still holds (False: lost or finished)."""
    return (
        db.execute(
            "UPDATE outbox_batches SET lease_until = ? WHERE id = ? AND claimed_by = ? AND status = 'pending'",
            [time.time() + lease_seconds, batch_id, worker_id],
        ).rowcount
        == 1
    )


def claim(
    db: Database,
    worker_id: str,
    lease_seconds: float,
    now: float | None = None,
    kind: str | None = None,
    ref: int | None = None,
) -> dict[str, Any] | None:
    """Take one due batch under a lease (atomic: two workers never hold the same batch).

    `kind`/`ref` limit it to one survey or reply (the foreground `survey send`).
    """
    now = time.time() if now is None else now
    only, params = "", []
    if kind is not None:
        only, params = " AND kind = ? AND ref = ?", [kind, ref]
    rows = db.execute(
        "UPDATE outbox_batches SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
        " WHERE id = (SELECT id FROM outbox_batches WHERE status = 'pending' AND next_attempt_at <= ?"
        "   AND (lease_until IS NULL OR lease_until < ?)"
        + only
        + " ORDER BY next_attempt_at, id LIMIT 1"
        + skip_locked(db)
        + ") AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)"
        " RETURNING id, kind, ref, lang, messages_json, retry_key, n, attempts",
        [worker_id, now + lease_seconds, now, now, *params, now],
    ).fetchall()
    if not rows:
        return None
    bid, kind, ref, lang, messages_json, retry_key, n, attempts = rows[0]
    return {
        "id": bid,
        "kind": kind,
        "ref": ref,
        "lang": lang,
        "messages": json.loads(messages_json),
        "retry_key": retry_key,
        "n": n,
        "attempts": attempts,
    }


def recipients(db: Database, batch_id: int) -> list[str]:
    return [
        r[0]
        for r in db.execute("SELECT user_id FROM outbox_recipients WHERE batch_id = ? ORDER BY user_id", [batch_id])
    ]


def finish(db: Database, batch_id: int, status: str, http_status: int, error: str | None = None) -> None:
    """sent (200, or 409: an earlier attempt was accepted) or failed (permanent).

    The recipient list goes with it: who was asked is kept by the feature that needs it
    (a survey's recipients), not by the outbox.
    """
    with transaction(db):
        done = db.execute(
            "UPDATE outbox_batches SET status = ?, last_status = ?, last_error = ?, claimed_by = NULL,"
            " lease_until = NULL, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
            " WHERE id = ? AND status = 'pending'",
            [status, http_status, (error or "")[:500] or None, status, time.time(), batch_id],
        ).rowcount
        if done:
            db.execute("DELETE FROM outbox_recipients WHERE batch_id = ?", [batch_id])


def retry_later(db: Database, batch_id: int, delay: float, http_status: int, error: str) -> None:
    db.execute(
        "UPDATE outbox_batches SET next_attempt_at = ?, claimed_by = NULL, lease_until = NULL, last_status = ?,"
        " last_error = ? WHERE id = ? AND status = 'pending'",
        [time.time() + delay, http_status, error[:500], batch_id],
    )


def stop_kind(db: Database, kind: str, ref: int, reason: str) -> int:
    """Stop every pending batch of one survey/reply (LINE's monthly limit: not transient)."""
    return db.execute(
        "UPDATE outbox_batches SET status = 'stopped', last_error = ?, claimed_by = NULL, lease_until = NULL"
        " WHERE kind = ? AND ref = ? AND status = 'pending'",
        [reason[:500], kind, ref],
    ).rowcount


def withdraw(db: Database, kind: str, ref: int) -> int:
    """Take back what has not gone yet (a survey closed before its invitations all went out)."""
    return db.execute(
        "UPDATE outbox_batches SET status = 'withdrawn', claimed_by = NULL, lease_until = NULL"
        " WHERE kind = ? AND ref = ? AND status = 'pending'",
        [kind, ref],
    ).rowcount


def counts(db: Database, kind: str, ref: int) -> dict[str, int]:
    """Recipients per batch status for one survey/reply: pending, sent, failed, stopped, withdrawn."""
    out: dict[str, int] = dict.fromkeys(DeliveryState, 0)
    for status, n in db.execute(
        "SELECT status, COALESCE(SUM(n), 0) FROM outbox_batches WHERE kind = ? AND ref = ? GROUP BY status", [kind, ref]
    ):
        out[status] = int(n)
    return out


def last_error(db: Database, kind: str, ref: int) -> str | None:
    row = db.execute(
        "SELECT last_error FROM outbox_batches WHERE kind = ? AND ref = ? AND last_error IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
        [kind, ref],
    ).fetchone()
    return row[0] if row else None


def next_due(db: Database, kind: str | None = None, ref: int | None = None) -> float | None:
    if kind is None:
        row = db.execute("SELECT MIN(next_attempt_at) FROM outbox_batches WHERE status = 'pending'").fetchone()
    else:
        row = db.execute(
            "SELECT MIN(next_attempt_at) FROM outbox_batches WHERE status = 'pending' AND kind = ? AND ref = ?",
            [kind, ref],
        ).fetchone()
    return row[0] if row and row[0] is not None else None


def forget_user(db: Database, user_id: str) -> None:
    """Unfollow: the resident leaves every recipient list."""
    db.execute("DELETE FROM outbox_recipients WHERE user_id = ?", [user_id])
