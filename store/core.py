"""SQL for the resident-facing core: webhook dedup, FAQ versions, query log, feedback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from store import transaction
from store.dialect import skip_locked

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


# --- webhook dedup and inbox -------------------------------------------------------------


def claim_event(db: Database, event_id: str, payload: str | None = None, now: float | None = None) -> bool:
    """Record a webhookEventId; False when it was already seen (a redelivery).

    With a payload the event is kept 'queued' until `finish_event`, so a crash between the
    acknowledgement and the reply can be recovered by `reclaim_stale_events`.
    """
    at = now if now is not None else time.time()
    cur = db.execute(
        "INSERT OR IGNORE INTO processed_events (event_id, received_at, state, payload, claimed_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [event_id, at, "queued" if payload is not None else "done", payload, at],
    )
    return cur.rowcount == 1


def finish_event(db: Database, event_id: str) -> None:
    """Mark a queued event handled and erase its payload (it holds a user id and text)."""
    db.execute("UPDATE processed_events SET state = 'done', payload = NULL WHERE event_id = ?", [event_id])


def reclaim_stale_events(
    db: Database, older_than_seconds: float, limit: int = 20, max_age_seconds: float = 600, now: float | None = None
) -> list[tuple[str, str, float]]:
    """Take over queued events whose handler vanished (crash); returns (id, payload, received_at).

    The UPDATE … WHERE event_id IN (SELECT … LIMIT n) RETURNING claim is atomic, so two
    processes never take the same event (the same pattern as FOR UPDATE SKIP LOCKED).
    """
    at = now if now is not None else time.time()
    # Past max_age an answer no longer helps (and a poison event must not loop forever).
    db.execute(
        "UPDATE processed_events SET state = 'abandoned', payload = NULL WHERE state = 'queued' AND received_at < ?",
        [at - max_age_seconds],
    )
    rows = db.execute(
        "UPDATE processed_events SET claimed_at = ? WHERE event_id IN ("
        " SELECT event_id FROM processed_events WHERE state = 'queued' AND claimed_at < ?"
        " ORDER BY received_at LIMIT ?" + skip_locked(db) + ") AND state = 'queued' AND claimed_at < ?"
        " RETURNING event_id, payload, received_at",
        [at, at - older_than_seconds, limit, at - older_than_seconds],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def prune_events(db: Database, older_than_seconds: float, now: float | None = None) -> int:
    """Forget processed event ids past the retention window."""
    cutoff = (now if now is not None else time.time()) - older_than_seconds
    return db.execute("DELETE FROM processed_events WHERE received_at < ?", [cutoff]).rowcount


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
    return FaqVersion(
        version=row["version"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        source_name=row["source_name"],
        n_entries=row["n_entries"],
        published_at=row["published_at"],
    )


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
            _set_published(db, version)
    return version


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
    """Log one resident question (normalized text, never the user id); returns the log id."""
    cur = db.execute(
        "INSERT INTO query_log (at, query, lang, outcome, faq_id, score, faq_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [time.time(), query, lang, outcome, faq_id, score, faq_version],
    )
    return cur.lastrowid


def record_feedback(db: Database, query_log_id: int | None, faq_id: str | None, helpful: bool) -> bool:
    """Store 解決した/解決しない once per answered question; False if already given."""
    cur = db.execute(
        "INSERT OR IGNORE INTO feedback (at, query_log_id, faq_id, helpful) VALUES (?, ?, ?, ?)",
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
