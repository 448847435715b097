"""Append-only audit log: who did what to which object, when (UPDATE and DELETE are refused)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlite_utils import Database, Migrations

from store.dialect import is_postgres

migrations = Migrations("madoguchi.audit")


@migrations(name="0001_audit_log")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT,
            source TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_log_at ON audit_log(at)")
    if is_postgres(db):
        db.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        db.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
            " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        # TRUNCATE skips row triggers: refuse it too.
        db.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
            " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    db.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    )


@migrations(name="0002_login_failure_counts")
def _m0002(db: Database) -> None:
    # Failed and throttled logins are anonymous and unlimited: one counter row per hour, account
    # and address instead of a row per attempt, so a flood cannot grow the append-only log.
    db.execute(
        """CREATE TABLE audit_login_failures (
            window_start REAL NOT NULL,
            actor TEXT NOT NULL,            -- an existing account's name, or UNKNOWN_ACCOUNT
            source TEXT NOT NULL,
            failed INTEGER NOT NULL DEFAULT 0,
            throttled INTEGER NOT NULL DEFAULT 0,
            first_at REAL NOT NULL,
            last_at REAL NOT NULL,
            PRIMARY KEY (window_start, actor, source)
        )"""
    )
    db.execute("CREATE INDEX audit_login_failures_last ON audit_login_failures(last_at)")


LOGIN_FAILURE_WINDOW = 3600.0
UNKNOWN_ACCOUNT = "不明なアカウント"


def record(
    db: Database, actor: str, action: str, target: str | None = None, detail: Any = None, source: str = "cli"
) -> int:
    """Append one entry; `action` like 'alert.approve', `source` like 'cli' or 'web 203.0.113.5'."""
    cur = db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
        [
            time.time(),
            actor,
            action,
            target,
            json.dumps(detail, ensure_ascii=False) if detail is not None else None,
            source,
        ],
    )
    return cur.lastrowid  # type: ignore[return-value]


def entries(
    db: Database, limit: int = 200, target: str | None = None, action_prefix: str | None = None
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM audit_log WHERE 1=1"
    params: list[Any] = []
    if target is not None:
        sql += " AND target = ?"
        params.append(target)
    if action_prefix is not None:
        sql += " AND action LIKE ?"
        params.append(action_prefix.replace("%", "") + "%")
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return list(db.query(sql, params))


def count_login_failure(db: Database, actor: str, source: str, throttled: bool, now: float | None = None) -> None:
    """Add one failed (or throttled) login to this hour's counter for the account and address."""
    at = now if now is not None else time.time()
    window = at - at % LOGIN_FAILURE_WINDOW
    failed, refused = (0, 1) if throttled else (1, 0)
    db.execute(
        "INSERT INTO audit_login_failures (window_start, actor, source, failed, throttled, first_at, last_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(window_start, actor, source) DO UPDATE SET"
        " failed = audit_login_failures.failed + excluded.failed,"
        " throttled = audit_login_failures.throttled + excluded.throttled, last_at = excluded.last_at",
        [window, actor, source, failed, refused, at, at],
    )


def login_failures(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Failed-login counters, most recent first."""
    return list(db.query("SELECT * FROM audit_login_failures ORDER BY last_at DESC LIMIT ?", [limit]))
