"""SQL for the resident-facing core: webhook dedup, FAQ versions, query log, feedback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from nlp.pii import mask_personal
from store import transaction
from store.dialect import skip_locked
from store.records import record
from store.vocab import InboxState

migrations = Migrations("madoguchi.core")


@migrations(name="0001_initial")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE processed_events (
            event_id TEXT PRIMARY KEY,
            received_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX processed_events_received ON processed_events(received_at)")
    db.execute(
        """CREATE TABLE faq_versions (
            version INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            source_name TEXT NOT NULL,
            n_entries INTEGER NOT NULL,
            entries_json TEXT NOT NULL,
            published_at REAL
        )"""
    )
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE query_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            query TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'ja',
            outcome TEXT NOT NULL,
            faq_id TEXT,
            score REAL,
            faq_version INTEGER,
            ignored INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX query_log_at ON query_log(at)")
    db.execute("CREATE INDEX query_log_outcome ON query_log(outcome, at)")
    db.execute(
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            query_log_id INTEGER,
            faq_id TEXT,
            helpful INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX feedback_once ON feedback(query_log_id) WHERE query_log_id IS NOT NULL")


@migrations(name="0002_event_inbox")
def _m0002(db: Database) -> None:
    # processed_events doubles as the inbox of the asynchronous webhook: an event is stored
    # 'queued' with its payload when acknowledged, and 'done' (payload erased) once handled.
    db.execute("ALTER TABLE processed_events ADD COLUMN state TEXT NOT NULL DEFAULT 'done'")
    db.execute("ALTER TABLE processed_events ADD COLUMN payload TEXT")
    db.execute("ALTER TABLE processed_events ADD COLUMN claimed_at REAL")
    db.execute("CREATE INDEX processed_events_queued ON processed_events(state, claimed_at)")


@migrations(name="0003_inbox_owners")
def _m0003(db: Database) -> None:
    # Answer workers claim events under their owner id; a process proves it is alive with a
    # heartbeat row, so only the events of an owner whose heartbeat stopped are taken over.
    # user_key (a salted hash) keeps one resident's events in order across processes;
    # stage/send_via record that a reply or push was under way when a process died, so the
    # next owner repeats that same call (a used reply token or a retry key stops a double).
    db.execute("ALTER TABLE processed_events ADD COLUMN owner TEXT")
    db.execute("ALTER TABLE processed_events ADD COLUMN user_key TEXT")
    db.execute("ALTER TABLE processed_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE processed_events ADD COLUMN send_via TEXT")
    db.execute("CREATE INDEX processed_events_state_received ON processed_events(state, received_at)")
    db.execute("CREATE INDEX processed_events_user_state ON processed_events(user_key, state)")
    db.execute(
        """CREATE TABLE answer_workers (
            owner TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            status TEXT
        )"""
    )
    db.execute("CREATE INDEX answer_workers_heartbeat ON answer_workers(heartbeat_at)")
    # Residents who unfollowed (salted hash, no LINE id): a late or redelivered event of
    # theirs must not bring the resident back; only a follow clears the mark.
    db.execute("CREATE TABLE departed_users (user_key TEXT PRIMARY KEY, at REAL NOT NULL)")
    db.execute("CREATE INDEX departed_users_at ON departed_users(at)")


@migrations(name="0004_mask_query_log")
def _m0004(db: Database) -> None:
    # Questions logged before masking existed may hold phone numbers or addresses.
    for row_id, query in db.execute("SELECT id, query FROM query_log").fetchall():
        masked = mask_personal(query)
        if masked != query:
            db.execute("UPDATE query_log SET query = ? WHERE id = ?", [masked, row_id])


# --- webhook dedup and inbox -------------------------------------------------------------
#
# processed_events is both the dedup set of webhookEventIds and the inbox of the answer
# workers: queued (payload kept) → working (owner set) → done | expired | failed (payload
# and user key erased). Every claim and release is one atomic UPDATE … RETURNING.

INBOX_OPEN_STATES = (InboxState.QUEUED, InboxState.WORKING)


@dataclass(frozen=True)
class InboxEvent:
    event_id: str
    payload: str | None
    received_at: float
    attempts: int
    user_key: str | None
    send_via: str | None


def record_events(db: Database, items: list[tuple[str, str, str | None]], now: float | None = None) -> list[bool]:
    """Queue (event_id, payload, user_key) items; per item, False when the id was already seen.

    Items of one webhook keep their order: each gets a received_at a microsecond later.
    """
    at = now if now is not None else time.time()
    fresh = []
    # Not serialised with other writers (immediate=False): ON CONFLICT settles a race between
    # two web processes, and on PostgreSQL the webhook must not queue behind the write lock.
    with transaction(db, immediate=False):
        for i, (event_id, payload, user_key) in enumerate(items):
            cur = db.execute(
                "INSERT INTO processed_events (event_id, received_at, state, payload, claimed_at, user_key)"
                " VALUES (?, ?, 'queued', ?, NULL, ?) ON CONFLICT(event_id) DO NOTHING",
                [event_id, at + i * 1e-6, payload, user_key],
            )
            fresh.append(cur.rowcount == 1)
    return fresh


def claim_event(db: Database, event_id: str, payload: str | None = None, now: float | None = None) -> bool:
    """Record one webhookEventId (queued when it has a payload); False for a redelivery."""
    if payload is not None:
        return record_events(db, [(event_id, payload, None)], now)[0]
    at = now if now is not None else time.time()
    cur = db.execute(
        "INSERT INTO processed_events (event_id, received_at, state) VALUES (?, ?, 'done')"
        " ON CONFLICT(event_id) DO NOTHING",
        [event_id, at],
    )
    return cur.rowcount == 1


def inbox_has_work(db: Database) -> bool:
    """A cheap read first, so idle workers polling never take the write lock."""
    return db.execute("SELECT 1 FROM processed_events WHERE state = 'queued' LIMIT 1").fetchone() is not None


_RETURNING = " RETURNING event_id, payload, received_at, attempts, user_key, send_via"


def _inbox_rows(rows: Iterable[Any]) -> list[InboxEvent]:
    events = [InboxEvent(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
    return sorted(events, key=lambda e: e.received_at)


def claim_events(db: Database, owner: str, limit: int, now: float | None = None) -> list[InboxEvent]:
    """Take up to `limit` queued events, oldest first, for `owner`.

    A resident with an event in progress anywhere is skipped, so one resident's events are
    answered in order even across processes. One atomic UPDATE … WHERE … IN (SELECT … LIMIT)
    RETURNING: two processes never take the same event (FOR UPDATE SKIP LOCKED on PostgreSQL).
    """
    at = now if now is not None else time.time()
    # In a write transaction: under PostgreSQL's READ COMMITTED two claimers would otherwise both
    # see no 'working' event of a resident and take two of theirs at once (out of order).
    with transaction(db):
        rows = db.execute(
            "UPDATE processed_events SET state = 'working', owner = ?, claimed_at = ?, attempts = attempts + 1"
            " WHERE event_id IN ("
            "  SELECT e.event_id FROM processed_events e WHERE e.state = 'queued'"
            "  AND NOT EXISTS (SELECT 1 FROM processed_events w"
            "   WHERE w.user_key = e.user_key AND w.state = 'working')"
            "  ORDER BY e.received_at LIMIT ?" + skip_locked(db, of="e") + ") AND state = 'queued'" + _RETURNING,
            [owner, at, limit],
        ).fetchall()
    return _inbox_rows(rows)


def claim_events_by_id(db: Database, owner: str, event_ids: list[str], now: float | None = None) -> list[InboxEvent]:
    """Take these queued events (answering inside the request, tests and dev only)."""
    if not event_ids:
        return []
    at = now if now is not None else time.time()
    marks = ", ".join("?" for _ in event_ids)
    rows = db.execute(
        "UPDATE processed_events SET state = 'working', owner = ?, claimed_at = ?, attempts = attempts + 1"
        f" WHERE state = 'queued' AND event_id IN ({marks})" + _RETURNING,
        [owner, at, *event_ids],
    ).fetchall()
    return _inbox_rows(rows)


def mark_sending(db: Database, event_id: str, owner: str, via: str) -> bool:
    """Note that `owner` is about to reply/push; False when it no longer owns the event."""
    cur = db.execute(
        "UPDATE processed_events SET send_via = ? WHERE event_id = ? AND owner = ? AND state = 'working'",
        [via, event_id, owner],
    )
    return cur.rowcount == 1


def finish_event(db: Database, event_id: str, owner: str | None = None, state: str = InboxState.DONE) -> bool:
    """Close an event and erase its payload (it holds a user id and text).

    With `owner`, only while that owner still holds it: a process that was presumed dead
    and whose event was taken over must not close the new owner's work.
    """
    sql = "UPDATE processed_events SET state = ?, payload = NULL, user_key = NULL, owner = NULL WHERE event_id = ?"
    params: list[Any] = [state, event_id]
    if owner is not None:
        sql += " AND owner = ? AND state = 'working'"
        params.append(owner)
    return db.execute(sql, params).rowcount == 1


def release_event(db: Database, event_id: str, owner: str) -> bool:
    """Put one of `owner`'s events back in the queue (its answer failed; it is tried again)."""
    cur = db.execute(
        "UPDATE processed_events SET state = 'queued', owner = NULL WHERE event_id = ? AND owner = ? AND state = 'working'",
        [event_id, owner],
    )
    return cur.rowcount == 1


def register_worker(db: Database, owner: str, status: dict[str, Any] | None = None, now: float | None = None) -> None:
    at = now if now is not None else time.time()
    db.execute(
        "INSERT INTO answer_workers (owner, started_at, heartbeat_at, status) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, status = excluded.status",
        [owner, at, at, json.dumps(status or {})],
    )


def heartbeat(db: Database, owner: str, status: dict[str, Any] | None = None, now: float | None = None) -> bool:
    """Renew `owner`'s lease on everything it holds; False when it was presumed dead meanwhile."""
    at = now if now is not None else time.time()
    cur = db.execute(
        "UPDATE answer_workers SET heartbeat_at = ?, status = ? WHERE owner = ?", [at, json.dumps(status or {}), owner]
    )
    return cur.rowcount == 1


def deregister_worker(db: Database, owner: str) -> int:
    """A worker stopping: put back what it still holds (none after a clean drain), drop its row."""
    with transaction(db):
        n = db.execute(
            "UPDATE processed_events SET state = 'queued', owner = NULL WHERE owner = ? AND state = 'working'", [owner]
        ).rowcount
        db.execute("DELETE FROM answer_workers WHERE owner = ?", [owner])
    return n


def release_dead_owners(db: Database, lease_seconds: float, now: float | None = None) -> int:
    """Queue again the events held by owners whose heartbeat stopped `lease_seconds` ago.

    Never touches an event of a live owner, however long it has been working on it.
    """
    cutoff = (now if now is not None else time.time()) - lease_seconds
    if (
        db.execute(
            "SELECT 1 FROM processed_events WHERE state = 'working' AND owner NOT IN"
            " (SELECT owner FROM answer_workers WHERE heartbeat_at >= ?) LIMIT 1",
            [cutoff],
        ).fetchone()
        is None
    ):
        db.execute("DELETE FROM answer_workers WHERE heartbeat_at < ?", [cutoff])
        return 0
    with transaction(db):
        n = db.execute(
            "UPDATE processed_events SET state = 'queued', owner = NULL WHERE state = 'working' AND owner NOT IN"
            " (SELECT owner FROM answer_workers WHERE heartbeat_at >= ?)",
            [cutoff],
        ).rowcount
        db.execute("DELETE FROM answer_workers WHERE heartbeat_at < ?", [cutoff])
    return n


def inbox_stats(db: Database, lease_seconds: float, now: float | None = None) -> dict[str, Any]:
    """Backlog and live answer workers, for /healthz."""
    at = now if now is not None else time.time()
    counts: dict[str, int] = dict.fromkeys(INBOX_OPEN_STATES, 0)
    oldest = None
    for state, n, first in db.execute(
        "SELECT state, COUNT(*), MIN(received_at) FROM processed_events WHERE state IN ('queued', 'working')"
        " GROUP BY state"
    ).fetchall():
        counts[state] = n
        oldest = first if oldest is None else min(oldest, first)
    workers = [
        json.loads(r[0] or "{}")
        for r in db.execute(
            "SELECT status FROM answer_workers WHERE heartbeat_at >= ? ORDER BY owner", [at - lease_seconds]
        ).fetchall()
    ]
    return {
        "queued": counts[InboxState.QUEUED],
        "in_progress": counts[InboxState.WORKING],
        "oldest_seconds": round(at - oldest, 1) if oldest is not None else 0.0,
        "workers": workers,
    }


def mark_departed(db: Database, user_key: str, now: float | None = None) -> None:
    db.execute(
        "INSERT INTO departed_users (user_key, at) VALUES (?, ?) ON CONFLICT(user_key) DO UPDATE SET at = excluded.at",
        [user_key, now if now is not None else time.time()],
    )


def clear_departed(db: Database, user_key: str) -> None:
    db.execute("DELETE FROM departed_users WHERE user_key = ?", [user_key])


def is_departed(db: Database, user_key: str) -> bool:
    return db.execute("SELECT 1 FROM departed_users WHERE user_key = ?", [user_key]).fetchone() is not None


def prune_events(db: Database, older_than_seconds: float, now: float | None = None) -> int:
    """Forget closed event ids (and unfollow marks) past the retention window."""
    cutoff = (now if now is not None else time.time()) - older_than_seconds
    db.execute("DELETE FROM departed_users WHERE at < ?", [cutoff])
    return db.execute(
        "DELETE FROM processed_events WHERE received_at < ? AND state NOT IN ('queued', 'working')", [cutoff]
    ).rowcount


# --- FAQ versions ------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqVersion:
    version: int
    created_at: float
    created_by: str
    source_name: str
    n_entries: int
    published_at: float | None


def _version_row(row: dict[str, Any]) -> FaqVersion:
    return record(FaqVersion, row)


def create_faq_version(
    db: Database, entries: Iterable[dict[str, Any]], created_by: str, source_name: str, publish: bool
) -> int:
    """Store a validated FAQ as a new version (and make it the published one if asked)."""
    rows = list(entries)
    now = time.time()
    with transaction(db):
        cur = db.execute(
            "INSERT INTO faq_versions (created_at, created_by, source_name, n_entries, entries_json, published_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [now, created_by, source_name, len(rows), json.dumps(rows, ensure_ascii=False), now if publish else None],
        )
        version = cur.lastrowid
        if publish:
            _set_published(db, version)  # type: ignore[arg-type]
    return version  # type: ignore[return-value]


def _set_published(db: Database, version: int) -> None:
    db.execute(
        "INSERT INTO settings (key, value) VALUES ('faq_published_version', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [str(version)],
    )


def publish_faq_version(db: Database, version: int) -> None:
    """Make an existing version the published one (publish after review, or roll back)."""
    with transaction(db):
        if db.execute("SELECT 1 FROM faq_versions WHERE version = ?", [version]).fetchone() is None:
            raise LookupError(f"FAQ version {version} does not exist")
        db.execute("UPDATE faq_versions SET published_at = ? WHERE version = ?", [time.time(), version])
        _set_published(db, version)


def published_faq_version(db: Database) -> int | None:
    row = db.execute("SELECT value FROM settings WHERE key = 'faq_published_version'").fetchone()
    return int(row[0]) if row else None


def faq_version_entries(db: Database, version: int) -> list[dict[str, Any]]:
    row = db.execute("SELECT entries_json FROM faq_versions WHERE version = ?", [version]).fetchone()
    if row is None:
        raise LookupError(f"FAQ version {version} does not exist")
    return json.loads(row[0])


def list_faq_versions(db: Database, limit: int = 50) -> list[FaqVersion]:
    rows = db.query(
        "SELECT version, created_at, created_by, source_name, n_entries, published_at"
        " FROM faq_versions ORDER BY version DESC LIMIT ?",
        [limit],
    )
    return [_version_row(r) for r in rows]


# --- query log and feedback --------------------------------------------------------------


def log_query(
    db: Database,
    query: str,
    outcome: str,
    faq_id: str | None = None,
    score: float | None = None,
    faq_version: int | None = None,
    lang: str = "ja",
) -> int:
    """Log one resident question (normalized text, never the user id); returns the log id.

    Phone numbers, マイナンバー-like digits and e-mail addresses are masked first: staff read
    this log for a year to improve the FAQ, and need none of them.
    """
    cur = db.execute(
        "INSERT INTO query_log (at, query, lang, outcome, faq_id, score, faq_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [time.time(), mask_personal(query), lang, outcome, faq_id, score, faq_version],
    )
    return cur.lastrowid  # type: ignore[return-value]


def record_feedback(db: Database, query_log_id: int | None, faq_id: str | None, helpful: bool) -> bool:
    """Store 解決した/解決しない once per answered question; False if already given."""
    cur = db.execute(
        "INSERT INTO feedback (at, query_log_id, faq_id, helpful) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [time.time(), query_log_id, faq_id, 1 if helpful else 0],
    )
    return cur.rowcount == 1


def query_log_rows(db: Database, outcome: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    if outcome is None:
        return list(db.query("SELECT * FROM query_log ORDER BY id DESC LIMIT ?", [limit]))
    return list(db.query("SELECT * FROM query_log WHERE outcome = ? ORDER BY id DESC LIMIT ?", [outcome, limit]))


def feedback_rows(db: Database, limit: int = 1000) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", [limit]))


def prune_query_log(db: Database, older_than_seconds: float, now: float | None = None) -> int:
    """Apply the query-log retention period."""
    cutoff = (now if now is not None else time.time()) - older_than_seconds
    return db.execute("DELETE FROM query_log WHERE at < ?", [cutoff]).rowcount


def database_ok(db: Database) -> bool:
    try:
        db.execute("SELECT 1").fetchone()
        return True
    except Exception:  # noqa: BLE001 - health check reports, never raises
        return False
