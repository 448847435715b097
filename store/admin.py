"""SQL for the console: users, server-side sessions, login attempts, the unanswered queue, dashboard stats."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from store import transaction
from store.records import record

migrations = Migrations("madoguchi.admin")

ROLES: tuple[str, ...] = ("admin", "staff", "operator", "approver")


@migrations(name="0001_users_sessions")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE admin_users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            password_changed_at REAL NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE admin_sessions (
            id TEXT PRIMARY KEY,            -- sha256 of the cookie value, never the value itself
            user TEXT NOT NULL REFERENCES admin_users(name) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            ip TEXT
        )"""
    )
    db.execute("CREATE INDEX admin_sessions_user ON admin_sessions(user)")
    db.execute(
        """CREATE TABLE admin_login_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            account TEXT NOT NULL,
            ip TEXT NOT NULL,
            ok INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX admin_login_attempts_account ON admin_login_attempts(account, at)")
    db.execute("CREATE INDEX admin_login_attempts_ip ON admin_login_attempts(ip, at)")
    db.execute(
        """CREATE TABLE admin_ignored_queries (
            query TEXT PRIMARY KEY,         -- normalized query text, hidden from the queue for good
            by TEXT NOT NULL,
            at REAL NOT NULL
        )"""
    )


@migrations(name="0002_login_throttle")
def _m0002(db: Database) -> None:
    # One counter row per key (a keyed hash of an account name or of a client address), updated
    # in one atomic statement so that concurrent logins in any process cannot overtake the limit.
    db.execute(
        """CREATE TABLE admin_login_throttle (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            delay REAL NOT NULL,            -- seconds the next attempt waits after the last counted one
            blocked_until REAL NOT NULL,    -- epoch seconds; attempts before it are refused uncounted
            updated_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX admin_login_throttle_updated ON admin_login_throttle(updated_at)")
    # The per-attempt table kept typed user names (sometimes a password typed into the wrong box).
    db.execute("DROP TABLE IF EXISTS admin_login_attempts")


class AdminStoreError(Exception):
    """Base class of console storage errors."""


class UserExists(AdminStoreError):
    """A user with this name already exists."""


class UnknownUser(AdminStoreError):
    """No such user."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    created_at: float
    password_changed_at: float
    disabled: bool


def _user(row: dict[str, Any]) -> User:
    return record(User, row)


# --- users -------------------------------------------------------------------------------


def create_user(db: Database, name: str, role: str, password_hash: str, now: float | None = None) -> User:
    """Add a console user; raise UserExists when the name is taken."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = now if now is not None else time.time()
    with transaction(db):
        if db.execute("SELECT 1 FROM admin_users WHERE name = ?", [name]).fetchone():
            raise UserExists(name)
        db.execute(
            "INSERT INTO admin_users (name, role, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)",
            [name, role, password_hash, now, now],
        )
    return get_user(db, name)


def get_user(db: Database, name: str) -> User:
    rows = list(db.query("SELECT * FROM admin_users WHERE name = ?", [name]))
    if not rows:
        raise UnknownUser(name)
    return _user(rows[0])


def find_user(db: Database, name: str) -> User | None:
    try:
        return get_user(db, name)
    except UnknownUser:
        return None


def has_users(db: Database) -> bool:
    """Whether any console account exists (a fresh install has none)."""
    return db.execute("SELECT 1 FROM admin_users LIMIT 1").fetchone() is not None


def list_users(db: Database) -> list[User]:
    return [_user(r) for r in db.query("SELECT * FROM admin_users ORDER BY name")]


def set_password_hash(db: Database, name: str, password_hash: str, now: float | None = None) -> None:
    """Replace a password and end every session of that user."""
    with transaction(db):
        cur = db.execute(
            "UPDATE admin_users SET password_hash = ?, password_changed_at = ? WHERE name = ?",
            [password_hash, now if now is not None else time.time(), name],
        )
        if cur.rowcount == 0:
            raise UnknownUser(name)
        db.execute("DELETE FROM admin_sessions WHERE user = ?", [name])


def update_user(db: Database, name: str, role: str | None = None, disabled: bool | None = None) -> None:
    """Change role and/or disable an account (ends its sessions)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    with transaction(db):
        if db.execute("SELECT 1 FROM admin_users WHERE name = ?", [name]).fetchone() is None:
            raise UnknownUser(name)
        if role is not None:
            db.execute("UPDATE admin_users SET role = ? WHERE name = ?", [role, name])
        if disabled is not None:
            db.execute("UPDATE admin_users SET disabled = ? WHERE name = ?", [1 if disabled else 0, name])
        db.execute("DELETE FROM admin_sessions WHERE user = ?", [name])


# --- sessions ----------------------------------------------------------------------------


def create_session(db: Database, session_id: str, user: str, csrf: str, now: float, ip: str | None) -> None:
    db.execute(
        "INSERT INTO admin_sessions (id, user, csrf, created_at, last_seen, ip) VALUES (?, ?, ?, ?, ?, ?)",
        [session_id, user, csrf, now, now, ip],
    )


def get_session(db: Database, session_id: str) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT s.*, u.role AS role, u.disabled AS disabled FROM admin_sessions s"
            " JOIN admin_users u ON u.name = s.user WHERE s.id = ?",
            [session_id],
        )
    )
    return rows[0] if rows else None


def touch_session(db: Database, session_id: str, now: float) -> None:
    db.execute("UPDATE admin_sessions SET last_seen = ? WHERE id = ?", [now, session_id])


def delete_session(db: Database, session_id: str) -> None:
    db.execute("DELETE FROM admin_sessions WHERE id = ?", [session_id])


def prune_sessions(db: Database, idle_before: float, created_before: float) -> int:
    return db.execute(
        "DELETE FROM admin_sessions WHERE last_seen < ? OR created_at < ?", [idle_before, created_before]
    ).rowcount


# --- login throttling ---------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `free` failures cost nothing, then `base`, 2×base, … up to `cap` seconds."""

    free: int
    base: float
    cap: float
    forget_after: float  # a key with no counted failure for this long starts again from zero

    def __post_init__(self) -> None:
        if self.free < 2 or self.base <= 0 or self.cap < self.base or self.forget_after <= self.cap:
            raise ValueError(f"inconsistent backoff {self}")


# The new row values, computed from the old ones in one statement (portable CASE, no MIN/MAX/POW).
_T = "admin_login_throttle"
_STALE = f"{_T}.updated_at < ?"
_NEXT_DELAY = (
    f"CASE WHEN {_STALE} OR {_T}.failures + 1 < ? THEN 0"
    f" WHEN {_T}.failures + 1 = ? OR {_T}.delay <= 0 THEN ?"
    f" WHEN {_T}.delay * 2 > ? THEN ? ELSE {_T}.delay * 2 END"
)
_CLAIM_SQL = (
    f"INSERT INTO {_T} (key, failures, delay, blocked_until, updated_at) VALUES (?, 1, ?, ?, ?)"
    f" ON CONFLICT(key) DO UPDATE SET"
    f" failures = CASE WHEN {_STALE} THEN 1 ELSE {_T}.failures + 1 END,"
    f" delay = {_NEXT_DELAY},"
    f" blocked_until = ? + {_NEXT_DELAY},"
    f" updated_at = ?"
    f" WHERE {_T}.blocked_until <= ?"
    f" RETURNING failures"
)


def claim_login_attempt(db: Database, key: str, now: float, policy: Backoff) -> float:
    """Count one attempt for `key` before its password is checked; 0 = go ahead, else seconds to wait.

    The attempt is charged as a failure up front (a success refunds it), so 30 attempts in flight
    cannot all pass a limit of 5: each claim sees the previous claims' counts. An attempt made
    while the key waits is refused without being counted and without lengthening the wait.
    """
    stale = now - policy.forget_after
    first_delay = 0.0  # policy.free >= 2: a first failure never waits
    delay_params = [stale, policy.free, policy.free, policy.base, policy.cap, policy.cap]
    row = db.execute(
        _CLAIM_SQL,
        [key, first_delay, now + first_delay, now, stale, *delay_params, now, *delay_params, now, now],
    ).fetchone()
    if row is not None:
        return 0.0
    got = db.execute(f"SELECT blocked_until FROM {_T} WHERE key = ?", [key]).fetchone()
    return max(0.0, float(got[0]) - now) if got else 0.0


def forget_login_failures(db: Database, key: str) -> None:
    """A successful login: the account starts again from zero."""
    db.execute(f"DELETE FROM {_T} WHERE key = ?", [key])


def refund_login_attempt(db: Database, key: str) -> None:
    """Take back a claim that turned out not to be a failure (a success, or refused by another key)."""
    db.execute(f"UPDATE {_T} SET failures = failures - 1 WHERE key = ? AND failures > 0", [key])


def login_wait(db: Database, key: str, now: float) -> float:
    """Seconds before `key` may try again (0 when it may now)."""
    got = db.execute(f"SELECT blocked_until FROM {_T} WHERE key = ?", [key]).fetchone()
    return max(0.0, float(got[0]) - now) if got else 0.0


def prune_login_throttle(db: Database, before: float, now: float) -> int:
    """Forget keys with no counted failure since `before` whose wait is over."""
    return db.execute(f"DELETE FROM {_T} WHERE updated_at < ? AND blocked_until <= ?", [before, now]).rowcount


# --- unanswered queue --------------------------------------------------------------------


def unanswered_rows(db: Database, since: float, limit: int = 5000) -> list[dict[str, Any]]:
    """Fallback questions not ignored (by row or by their normalized text), newest first."""
    return list(
        db.query(
            "SELECT q.id, q.at, q.query, q.lang FROM query_log q"
            " WHERE q.outcome = 'fallback' AND q.ignored = 0 AND q.at >= ?"
            " AND q.query NOT IN (SELECT query FROM admin_ignored_queries)"
            " ORDER BY q.id DESC LIMIT ?",
            [since, limit],
        )
    )


def unhelpful_feedback(db: Database, since: float, limit: int = 200) -> list[dict[str, Any]]:
    """「解決しない」 answers with the question that led to them."""
    return list(
        db.query(
            "SELECT f.at, f.faq_id AS feedback_faq_id, q.query, q.faq_id, q.outcome, q.lang FROM feedback f"
            " LEFT JOIN query_log q ON q.id = f.query_log_id"
            " WHERE f.helpful = 0 AND f.at >= ?"
            " AND (q.query IS NULL OR q.query NOT IN (SELECT query FROM admin_ignored_queries))"
            " ORDER BY f.id DESC LIMIT ?",
            [since, limit],
        )
    )


def ignore_queries(db: Database, queries: list[str], by: str, now: float | None = None) -> int:
    """Hide these normalized questions from the queue for good (now and when asked again)."""
    now = now if now is not None else time.time()
    with transaction(db):
        for q in queries:
            db.execute("INSERT OR IGNORE INTO admin_ignored_queries (query, by, at) VALUES (?, ?, ?)", [q, by, now])
        marks = ",".join("?" for _ in queries) or "''"
        cur = db.execute(f"UPDATE query_log SET ignored = 1 WHERE query IN ({marks})", list(queries))
    return cur.rowcount


# --- dashboard ---------------------------------------------------------------------------


def questions_per_day(db: Database, days: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """Per day given as (label, start, end) epochs: total questions and each outcome.

    The caller computes the boundaries in the ward's time zone; SQL stays portable (no
    `date(…, 'localtime')`, which would also use the server's zone, usually UTC).
    """
    out = []
    for label, start, end in days:
        row = db.execute(
            "SELECT COUNT(*), SUM(CASE WHEN outcome IN ('answer', 'answer_chosen') THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN outcome = 'suggest' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN outcome = 'fallback' THEN 1 ELSE 0 END)"
            " FROM query_log WHERE at >= ? AND at < ? AND outcome != 'answer_chosen'",
            [start, end],
        ).fetchone()
        out.append(
            {
                "day": label,
                "n": int(row[0] or 0),
                "answer": int(row[1] or 0),
                "suggest": int(row[2] or 0),
                "fallback": int(row[3] or 0),
            }
        )
    return out


def outcome_counts(db: Database, since: float) -> dict[str, int]:
    rows = db.execute("SELECT outcome, COUNT(*) FROM query_log WHERE at >= ? GROUP BY outcome", [since]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def top_faqs(db: Database, since: float, limit: int = 10) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT faq_id, COUNT(*) AS n FROM query_log WHERE at >= ? AND faq_id IS NOT NULL"
            " AND outcome IN ('answer', 'answer_chosen') GROUP BY faq_id ORDER BY n DESC, faq_id LIMIT ?",
            [since, limit],
        )
    )


def feedback_counts(db: Database, since: float) -> dict[str, int]:
    row = db.execute(
        "SELECT COALESCE(SUM(helpful = 1), 0), COALESCE(SUM(helpful = 0), 0) FROM feedback WHERE at >= ?", [since]
    ).fetchone()
    return {"helpful": int(row[0]), "unhelpful": int(row[1])}
