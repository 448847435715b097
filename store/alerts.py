"""SQL for emergency alerts: drafts, per-language texts, the delivery outbox.

The outbox (`alert_batches`) is fixed when delivery starts: each batch holds ≤500
recipients (`alert_recipients`) and its own X-Line-Retry-Key, stored before the first
attempt. Workers claim a batch with one conditional UPDATE … WHERE id = (SELECT … LIMIT 1)
… RETURNING, the SQLite shape of `SELECT … FOR UPDATE SKIP LOCKED`, and hold it under a
lease: a worker that dies leaves a lease that expires, and the next worker retries the
batch with the same key (LINE answers 409 when the first attempt was accepted).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from sqlite_utils import Database, Migrations

from store import transaction
from store.dialect import skip_locked
from store.records import record

migrations = Migrations("madoguchi.alerts")


@migrations(name="0001_alerts")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('actual', 'exercise', 'test')),
            msg_type TEXT NOT NULL CHECK (msg_type IN ('alert', 'update', 'cancel')),
            references_id INTEGER REFERENCES alerts(id),
            template TEXT,
            fields_json TEXT,
            event TEXT,
            level INTEGER,
            hazard TEXT,
            severity TEXT,
            headline TEXT NOT NULL,
            areas_json TEXT NOT NULL DEFAULT '[]',
            langs_json TEXT NOT NULL DEFAULT '[]',
            topics_json TEXT NOT NULL DEFAULT '[]',
            expires_at REAL,
            state TEXT NOT NULL DEFAULT 'draft',
            approved_by TEXT,
            approved_at REAL,
            started_by TEXT,
            started_at REAL,
            finished_at REAL,
            stop_reason TEXT
        )"""
    )
    db.execute("CREATE INDEX alerts_state ON alerts(state, status)")
    db.execute("CREATE INDEX alerts_references ON alerts(references_id)")
    db.execute(
        """CREATE TABLE alert_texts (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            lang TEXT NOT NULL,
            messages_json TEXT NOT NULL,
            PRIMARY KEY (alert_id, lang)
        )"""
    )
    db.execute(
        """CREATE TABLE alert_batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            text_lang TEXT NOT NULL,
            retry_key TEXT NOT NULL UNIQUE,
            n INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            claimed_by TEXT,
            lease_until REAL,
            last_status INTEGER,
            last_error TEXT,
            request_id TEXT,
            sent_at REAL
        )"""
    )
    db.execute("CREATE INDEX alert_batches_claim ON alert_batches(status, next_attempt_at)")
    db.execute("CREATE INDEX alert_batches_alert ON alert_batches(alert_id, status)")
    db.execute(
        """CREATE TABLE alert_recipients (
            batch_id INTEGER NOT NULL REFERENCES alert_batches(id),
            user_id TEXT NOT NULL,
            PRIMARY KEY (batch_id, user_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX alert_recipients_user ON alert_recipients(user_id)")


@migrations(name="0002_test_audience")
def _m0002(db: Database) -> None:
    # Exercise/test alerts may be limited to staff phones (the test audience).
    db.execute("ALTER TABLE alerts ADD COLUMN test_audience INTEGER NOT NULL DEFAULT 0")
    db.execute(
        """CREATE TABLE alert_testers (
            user_id TEXT PRIMARY KEY,
            note TEXT,
            added_by TEXT NOT NULL,
            added_at REAL NOT NULL
        ) WITHOUT ROWID"""
    )


@migrations(name="0003_batch_messages")
def _m0003(db: Database) -> None:
    # Per-area content (an evacuation alert with the open shelters of the recipients' area): the
    # exact messages of a batch, fixed with its retry key so every attempt sends the same thing.
    db.execute("ALTER TABLE alert_batches ADD COLUMN messages_json TEXT")


class AlertRow(TypedDict):
    """An alert as stored. A TypedDict, not a dataclass: alerts are read by key in ~190 places, by
    functions that also take the row of an alert not stored yet (a draft being checked, a ごみ
    reminder), so the type names the keys without a second shape. Labels for people are a separate
    `alerts.render.AlertView`, never keys added to this."""

    id: int
    created_at: float
    created_by: str
    status: str  # AlertStatus
    msg_type: str  # MsgType
    references_id: int | None  # the alert an update or cancel is about
    template: str | None
    fields: dict[str, Any]  # the template's fields as entered
    event: str | None
    level: int | None
    hazard: str | None
    severity: str | None
    headline: str
    areas: list[str]  # area codes; [] = the whole ward
    langs: list[str]
    topics: list[str]
    expires_at: float | None
    state: str  # AlertState
    approved_by: str | None
    approved_at: float | None
    started_by: str | None
    started_at: float | None
    finished_at: float | None
    stop_reason: str | None
    test_audience: bool  # sent only to the test audience (staff phones)


def _alert_row(row: dict[str, Any]) -> AlertRow:
    return record(AlertRow, row, fields=json.loads(row["fields_json"] or "{}"))


def insert_alert(db: Database, row: dict[str, Any], texts: dict[str, list[dict[str, Any]]]) -> int:
    """Store a new alert and its per-language messages (rendered once, never shared)."""
    values = dict(row)
    values["fields_json"] = json.dumps(values.pop("fields", {}) or {}, ensure_ascii=False)
    for key in ("areas", "langs", "topics"):
        values[f"{key}_json"] = json.dumps(list(values.pop(key, ()) or ()), ensure_ascii=False)
    cols = list(values)
    with transaction(db):
        cur = db.execute(
            f"INSERT INTO alerts ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", [values[c] for c in cols]
        )
        alert_id = cur.lastrowid
        for lang, messages in texts.items():
            db.execute(
                "INSERT INTO alert_texts (alert_id, lang, messages_json) VALUES (?, ?, ?)",
                [alert_id, lang, json.dumps(messages, ensure_ascii=False)],
            )
    return alert_id  # type: ignore[return-value]


def get_alert(db: Database, alert_id: int) -> AlertRow | None:
    rows = list(db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
    return _alert_row(rows[0]) if rows else None


def list_alerts(db: Database, limit: int = 50) -> list[AlertRow]:
    return [_alert_row(r) for r in db.query("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", [limit])]


def alert_texts(db: Database, alert_id: int) -> dict[str, list[dict[str, Any]]]:
    """{lang: [LINE message JSON]} as stored at creation."""
    return {
        lang: json.loads(raw)
        for lang, raw in db.execute("SELECT lang, messages_json FROM alert_texts WHERE alert_id = ?", [alert_id])
    }


def update_alert(db: Database, alert_id: int, expect_state: Sequence[str] | None = None, **fields: Any) -> bool:
    """Change alert columns; with `expect_state` only when the alert is in one of those states."""
    cols = list(fields)
    sql = f"UPDATE alerts SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
    params = [fields[c] for c in cols] + [alert_id]
    if expect_state:
        sql += f" AND state IN ({', '.join('?' for _ in expect_state)})"
        params += list(expect_state)
    return db.execute(sql, params).rowcount == 1


def create_outbox(
    db: Database,
    alert_id: int,
    groups: Iterable[tuple[str, Iterable[str]] | tuple[str, Iterable[str], list[dict[str, Any]] | None]],
    by: str,
    batch_size: int = 500,
    now: float | None = None,
) -> int:
    """Fix the recipient list: cut each (text_lang, user ids[, messages]) group into batches with retry keys.

    A group's own `messages` (per-area content) are stored with each of its batches; without
    them a batch sends the alert's text in `text_lang`. Runs in one transaction that also moves
    the alert from approved to sending, so a second call (or a second operator) finds the alert
    already sending and creates nothing. Returns the number of recipients.
    """
    if not 1 <= batch_size <= 500:
        raise ValueError("batch_size must be between 1 and 500 (LINE's multicast limit)")
    now = time.time() if now is None else now
    total = 0
    with transaction(db):
        moved = db.execute(
            "UPDATE alerts SET state = 'sending', started_by = ?, started_at = ? WHERE id = ? AND state = 'approved'",
            [by, now, alert_id],
        ).rowcount
        if not moved:
            raise LookupError("alert is not in the approved state")
        for group in groups:
            text_lang, user_ids = group[0], group[1]
            messages = group[2] if len(group) > 2 else None
            raw = json.dumps(messages, ensure_ascii=False) if messages else None
            chunk: list[str] = []
            for uid in user_ids:
                chunk.append(uid)
                if len(chunk) == batch_size:
                    total += _insert_batch(db, alert_id, text_lang, chunk, raw)
                    chunk = []
            if chunk:
                total += _insert_batch(db, alert_id, text_lang, chunk, raw)
        if total == 0:
            db.execute("UPDATE alerts SET state = 'sent', finished_at = ? WHERE id = ?", [now, alert_id])
    return total


def _insert_batch(db: Database, alert_id: int, text_lang: str, user_ids: list[str], messages_json: str | None) -> int:
    cur = db.execute(
        "INSERT INTO alert_batches (alert_id, text_lang, retry_key, n, messages_json) VALUES (?, ?, ?, ?, ?)",
        [alert_id, text_lang, str(uuid.uuid4()), len(user_ids), messages_json],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO alert_recipients (batch_id, user_id) VALUES (?, ?)",
        [(cur.lastrowid, u) for u in user_ids],
    )
    return len(user_ids)


def claim_batch(
    db: Database, worker_id: str, lease_seconds: float, alert_id: int | None = None, now: float | None = None
) -> dict[str, Any] | None:
    """Atomically take one due batch of a sending alert (cancels first), or None.

    One statement: concurrent workers (processes or hosts) can never hold the same batch
    while its lease runs. On PostgreSQL the inner SELECT is … FOR UPDATE OF b SKIP LOCKED, so
    a second worker takes the next batch instead of queueing behind the first one's row lock.
    """
    now = time.time() if now is None else now
    only = " AND b.alert_id = ?" if alert_id is not None else ""
    params: list[Any] = [worker_id, now + lease_seconds, now, now, now]
    if alert_id is not None:
        params.append(alert_id)
    params.append(now)
    rows = list(
        db.execute(
            "UPDATE alert_batches SET claimed_by = ?, lease_until = ?, attempts = attempts + 1"
            " WHERE id = (SELECT b.id FROM alert_batches b JOIN alerts a ON a.id = b.alert_id"
            "   WHERE b.status = 'pending' AND a.state = 'sending' AND b.next_attempt_at <= ?"
            "   AND (b.lease_until IS NULL OR b.lease_until < ?)"
            "   AND (a.expires_at IS NULL OR a.expires_at > ?)"
            + only
            + "   ORDER BY (a.msg_type = 'cancel') DESC, b.next_attempt_at, b.id LIMIT 1"
            + skip_locked(db, of="b")
            + ")"
            " AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)"
            " RETURNING id, alert_id, text_lang, retry_key, attempts, n, messages_json",
            params,
        ).fetchall()
    )
    if not rows:
        return None
    bid, aid, text_lang, retry_key, attempts, n, raw = rows[0]
    return {
        "id": bid,
        "alert_id": aid,
        "text_lang": text_lang,
        "retry_key": retry_key,
        "attempts": attempts,
        "n": n,
        "messages": json.loads(raw) if raw else None,
    }


def renew_lease(db: Database, batch_id: int, worker_id: str, lease_seconds: float, now: float | None = None) -> bool:
    """Extend the lease of a batch this worker still holds (False: it was lost or finished)."""
    now = time.time() if now is None else now
    return (
        db.execute(
            "UPDATE alert_batches SET lease_until = ? WHERE id = ? AND claimed_by = ? AND status = 'pending'",
            [now + lease_seconds, batch_id, worker_id],
        ).rowcount
        == 1
    )


def batch_recipients(db: Database, batch_id: int) -> list[str]:
    return [r[0] for r in db.execute("SELECT user_id FROM alert_recipients WHERE batch_id = ?", [batch_id])]


def _maybe_finish(db: Database, alert_id: int, now: float) -> None:
    db.execute(
        "UPDATE alerts SET state = 'sent', finished_at = ? WHERE id = ? AND state = 'sending'"
        " AND NOT EXISTS (SELECT 1 FROM alert_batches WHERE alert_id = ? AND status = 'pending')",
        [now, alert_id, alert_id],
    )


def mark_batch_sent(db: Database, batch_id: int, alert_id: int, request_id: str | None, status: int) -> None:
    """The batch was accepted by LINE (200, or 409 = accepted by an earlier attempt)."""
    now = time.time()
    with transaction(db):
        db.execute(
            "UPDATE alert_batches SET status = 'sent', sent_at = ?, claimed_by = NULL, lease_until = NULL,"
            " last_status = ?, last_error = NULL, request_id = COALESCE(?, request_id) WHERE id = ? AND status = 'pending'",
            [now, status, request_id, batch_id],
        )
        _maybe_finish(db, alert_id, now)


def retry_batch_later(db: Database, batch_id: int, delay: float, status: int, error: str) -> None:
    """Give the batch back for another attempt after `delay` seconds (same retry key)."""
    now = time.time()
    db.execute(
        "UPDATE alert_batches SET claimed_by = NULL, lease_until = NULL, next_attempt_at = ?, last_status = ?, last_error = ?"
        " WHERE id = ? AND status = 'pending'",
        [now + delay, status, error[:500], batch_id],
    )


def fail_batch(db: Database, batch_id: int, alert_id: int, status: int, error: str) -> None:
    """A permanent error (e.g. 400): the batch will not be retried."""
    now = time.time()
    with transaction(db):
        db.execute(
            "UPDATE alert_batches SET status = 'failed', claimed_by = NULL, lease_until = NULL, last_status = ?, last_error = ?"
            " WHERE id = ? AND status = 'pending'",
            [status, error[:500], batch_id],
        )
        _maybe_finish(db, alert_id, now)


def stop_alert(db: Database, alert_id: int, reason: str, batch_id: int | None = None) -> None:
    """Stop an alert's delivery (monthly quota): pending batches stay for a later resume."""
    with transaction(db):
        if batch_id is not None:
            db.execute(
                "UPDATE alert_batches SET claimed_by = NULL, lease_until = NULL, last_status = 429, last_error = ? WHERE id = ?",
                [reason[:500], batch_id],
            )
        db.execute(
            "UPDATE alerts SET state = 'stopped', stop_reason = ? WHERE id = ? AND state = 'sending'",
            [reason, alert_id],
        )


def resume_alert(db: Database, alert_id: int) -> bool:
    return (
        db.execute(
            "UPDATE alerts SET state = 'sending', stop_reason = NULL WHERE id = ? AND state = 'stopped'", [alert_id]
        ).rowcount
        == 1
    )


def withdraw_pending(db: Database, alert_id: int) -> int:
    """Stop batches of an alert that no attempt has touched yet (used by cancel)."""
    with transaction(db):
        n = db.execute(
            "UPDATE alert_batches SET status = 'withdrawn' WHERE alert_id = ? AND status = 'pending' AND attempts = 0"
            " AND (lease_until IS NULL OR lease_until < ?)",
            [alert_id, time.time()],
        ).rowcount
        _maybe_finish(db, alert_id, time.time())
    return n


def reached_recipients(db: Database, alert_id: int) -> list[tuple[str, str]]:
    """(user_id, text_lang) of everyone the alert may have reached (any batch that was attempted)."""
    return [
        (u, lang)
        for u, lang in db.execute(
            "SELECT r.user_id, b.text_lang FROM alert_recipients r JOIN alert_batches b ON b.id = r.batch_id"
            " WHERE b.alert_id = ? AND (b.status = 'sent' OR b.attempts > 0) ORDER BY r.user_id",
            [alert_id],
        )
    ]


def delivery_counts(db: Database, alert_id: int) -> dict[str, int]:
    """Recipients per batch state plus batch counts."""
    out = {"total": 0, "sent": 0, "pending": 0, "failed": 0, "withdrawn": 0, "batches": 0, "attempts": 0}
    for status, n, batches, attempts in db.execute(
        "SELECT status, SUM(n), COUNT(*), SUM(attempts) FROM alert_batches WHERE alert_id = ? GROUP BY status",
        [alert_id],
    ):
        out["total"] += n
        out[status] = out.get(status, 0) + n
        out["batches"] += batches
        out["attempts"] += attempts
    return out


def unsent_count(db: Database, alert_id: int) -> int:
    """Recipients in batches no attempt has touched yet (a cancel withdraws them instead)."""
    row = db.execute(
        "SELECT COALESCE(SUM(n), 0) FROM alert_batches WHERE alert_id = ? AND status = 'pending' AND attempts = 0"
        " AND (lease_until IS NULL OR lease_until < ?)",
        [alert_id, time.time()],
    ).fetchone()
    return int(row[0])


def updates_of(db: Database, alert_id: int) -> list[dict[str, Any]]:
    """Corrections and lifts (Updates) referencing an alert, newest first."""
    return [
        {"id": i, "template": tpl, "state": state}
        for i, tpl, state in db.execute(
            "SELECT id, template, state FROM alerts WHERE references_id = ? AND msg_type = 'update' ORDER BY id DESC",
            [alert_id],
        )
    ]


def withdraw_drafts_referencing(db: Database, alert_id: int, msg_type: str, keep: int) -> list[int]:
    """Withdraw unsent drafts of `msg_type` that reference an alert (all but `keep`); their ids."""
    return [
        r[0]
        for r in db.execute(
            "UPDATE alerts SET state = 'withdrawn' WHERE references_id = ? AND msg_type = ? AND id <> ?"
            " AND state IN ('draft', 'approved') RETURNING id",
            [alert_id, msg_type, keep],
        ).fetchall()
    ]


def headlines(db: Database, alert_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return {}
    return {
        i: h for i, h in db.execute(f"SELECT id, headline FROM alerts WHERE id IN ({', '.join('?' for _ in ids)})", ids)
    }


def cancels_of(db: Database, alert_id: int) -> list[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM alerts WHERE references_id = ? AND msg_type = 'cancel' AND state IN ('sending', 'sent', 'stopped')",
            [alert_id],
        )
    ]


def active_alert_rows(db: Database, now: float | None = None) -> list[AlertRow]:
    """Actual alerts (alert/update) being or done sending, not expired and not cancelled or superseded."""
    now = time.time() if now is None else now
    rows = db.query(
        "SELECT * FROM alerts a WHERE a.status = 'actual' AND a.msg_type IN ('alert', 'update')"
        " AND a.state IN ('sending', 'sent', 'stopped') AND (a.expires_at IS NULL OR a.expires_at > ?)"
        " AND NOT EXISTS (SELECT 1 FROM alerts c WHERE c.references_id = a.id"
        "   AND c.state IN ('sending', 'sent', 'stopped')"
        # A correction or lift that was itself cancelled (sent by mistake) leaves the order in force.
        "   AND NOT EXISTS (SELECT 1 FROM alerts x WHERE x.references_id = c.id AND x.msg_type = 'cancel'"
        "     AND x.state IN ('sending', 'sent', 'stopped')))"
        " ORDER BY a.id DESC",
        [now],
    )
    return [_alert_row(r) for r in rows]


def forget_user(db: Database, user_id: str) -> None:
    """Remove a user id from every outbox list and from the test audience (unfollow)."""
    db.execute("DELETE FROM alert_recipients WHERE user_id = ?", [user_id])
    db.execute("DELETE FROM alert_testers WHERE user_id = ?", [user_id])


def add_tester(db: Database, user_id: str, added_by: str, note: str | None = None) -> bool:
    """Add a LINE user id to the test audience (True) or update its note (False)."""
    with transaction(db):
        created = (
            db.execute(
                "INSERT OR IGNORE INTO alert_testers (user_id, note, added_by, added_at) VALUES (?, ?, ?, ?)",
                [user_id, note, added_by, time.time()],
            ).rowcount
            == 1
        )
        if not created:
            db.execute("UPDATE alert_testers SET note = ? WHERE user_id = ?", [note, user_id])
    return created


def remove_tester(db: Database, user_id: str) -> bool:
    return db.execute("DELETE FROM alert_testers WHERE user_id = ?", [user_id]).rowcount == 1


def list_testers(db: Database) -> list[dict[str, Any]]:
    """Every tester with `subscribed` (whether the id follows the account, i.e. can receive)."""
    return [
        {"user_id": u, "note": note, "added_by": by, "added_at": at, "subscribed": bool(sub)}
        for u, note, by, at, sub in db.execute(
            "SELECT t.user_id, t.note, t.added_by, t.added_at,"
            " EXISTS (SELECT 1 FROM residents r WHERE r.user_id = t.user_id AND r.delivery_stopped = 0)"
            " FROM alert_testers t ORDER BY t.added_at, t.user_id"
        )
    ]


def count_testers(db: Database) -> int:
    return db.execute("SELECT COUNT(*) FROM alert_testers").fetchone()[0]


def next_due(db: Database, alert_id: int | None = None) -> float | None:
    """When the earliest pending batch of a sending alert becomes claimable (None: no work left)."""
    sql = (
        # The later of next_attempt_at and the lease (a CASE: MAX(a, b) is SQLite-only).
        "SELECT MIN(CASE WHEN COALESCE(b.lease_until, 0) > b.next_attempt_at THEN b.lease_until"
        " ELSE b.next_attempt_at END) FROM alert_batches b"
        " JOIN alerts a ON a.id = b.alert_id WHERE b.status = 'pending' AND a.state = 'sending'"
        " AND (a.expires_at IS NULL OR a.expires_at > ?)"
    )
    params: list[Any] = [time.time()]
    if alert_id is not None:
        sql += " AND b.alert_id = ?"
        params.append(alert_id)
    row = db.execute(sql, params).fetchone()
    return row[0] if row and row[0] is not None else None


def expire_overdue(db: Database, reason: str, now: float | None = None) -> list[int]:
    """Close alerts that expired while still sending or stopped: their unsent batches are withdrawn.

    An expired message is never delivered late (claim_batch skips it already); this records
    why the rest was not sent. Returns the ids of the alerts closed.
    """
    now = time.time() if now is None else now
    closed = []
    with transaction(db):
        for (aid,) in db.execute(
            "SELECT id FROM alerts WHERE state IN ('sending', 'stopped') AND expires_at IS NOT NULL AND expires_at <= ?",
            [now],
        ).fetchall():
            n = db.execute(
                "UPDATE alert_batches SET status = 'withdrawn', claimed_by = NULL, lease_until = NULL"
                " WHERE alert_id = ? AND status = 'pending'",
                [aid],
            ).rowcount
            db.execute(
                "UPDATE alerts SET state = 'sent', finished_at = ?, stop_reason = ? WHERE id = ?",
                [now, reason.format(n=n), aid],
            )
            closed.append(aid)
    return closed
