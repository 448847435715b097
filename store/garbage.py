"""SQL for garbage: imported 5374 sets, evening reminders, 粗大ごみ fee lists and requests.

A 5374 set is stored whole as JSON (like FAQ versions) and made current by one settings row
in the same transaction, so a re-import replaces the set atomically and a rejected import
leaves the previous one serving.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, TypedDict

from sqlite_utils import Database, Migrations

from store import outbox as outbox_store
from store import transaction
from store.records import record
from store.vocab import BulkyStatus

migrations = Migrations("madoguchi.garbage")

CURRENT_KEY = "garbage_current_set"
FEES_KEY = "bulky_current_fees"
KEEP_SETS = 5  # older imports are deleted (a rollback needs only the last few)
DEFAULT_DAY = "*"  # bulky_capacity.day for an area's default capacity


@migrations(name="0001_garbage")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE garbage_sets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            imported_at REAL NOT NULL,
            imported_by TEXT NOT NULL,
            source TEXT NOT NULL,
            n_areas INTEGER NOT NULL,
            n_items INTEGER NOT NULL,
            data_json TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE garbage_reminders (
            area TEXT NOT NULL,
            day TEXT NOT NULL,
            alert_id INTEGER,
            created_at REAL NOT NULL,
            PRIMARY KEY (area, day)
        )"""
    )
    db.execute(
        """CREATE TABLE bulky_fee_lists (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            imported_at REAL NOT NULL,
            imported_by TEXT NOT NULL,
            source TEXT NOT NULL,
            entries_json TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE bulky_capacity (
            area TEXT NOT NULL,
            day TEXT NOT NULL,
            capacity INTEGER NOT NULL,
            PRIMARY KEY (area, day)
        )"""
    )
    db.execute(
        """CREATE TABLE bulky_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            receipt TEXT NOT NULL UNIQUE,
            user_id TEXT,
            area TEXT NOT NULL,
            address TEXT NOT NULL,
            day TEXT NOT NULL,
            items_json TEXT NOT NULL,
            total_fee INTEGER NOT NULL,
            lang TEXT,
            status TEXT NOT NULL DEFAULT 'booked',
            created_at REAL NOT NULL,
            cancelled_at REAL,
            cancelled_by TEXT,
            cancel_reason TEXT
        )"""
    )
    db.execute("CREATE INDEX bulky_requests_day ON bulky_requests(day, area, status)")
    db.execute("CREATE INDEX bulky_requests_user ON bulky_requests(user_id, status)")
    db.execute(
        """CREATE TABLE bulky_drafts (
            user_id TEXT PRIMARY KEY,
            state_json TEXT NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )


@migrations(name="0002_bulky_day_counts")
def _m0002(db: Database) -> None:
    # One row per area and day counts the bookings: a conditional upsert on it is the capacity
    # gate, atomic on SQLite and PostgreSQL alike (a COUNT then INSERT is not, under READ COMMITTED).
    db.execute(
        """CREATE TABLE bulky_day_counts (
            area TEXT NOT NULL,
            day TEXT NOT NULL,
            booked INTEGER NOT NULL,
            PRIMARY KEY (area, day)
        )"""
    )


# --- 5374 sets ---------------------------------------------------------------------------


def save_set(db: Database, data: dict[str, Any], by: str, source: str) -> int:
    """Store an imported set and make it current, in one transaction; returns its id."""
    now = time.time()
    with transaction(db):
        cur = db.execute(
            "INSERT INTO garbage_sets (imported_at, imported_by, source, n_areas, n_items, data_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [now, by, source, len(data["areas"]), len(data["items"]), json.dumps(data, ensure_ascii=False)],
        )
        set_id = cur.lastrowid
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [CURRENT_KEY, str(set_id)],
        )
        db.execute("DELETE FROM garbage_sets WHERE id <= ?", [set_id - KEEP_SETS])  # type: ignore[operator]
    return set_id  # type: ignore[return-value]


def current_set_id(db: Database) -> int | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [CURRENT_KEY]).fetchone()
    return int(row[0]) if row else None


def load_set(db: Database, set_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT data_json FROM garbage_sets WHERE id = ?", [set_id]).fetchone()
    return json.loads(row[0]) if row else None


def set_info(db: Database, set_id: int) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT id, imported_at, imported_by, source, n_areas, n_items FROM garbage_sets WHERE id = ?", [set_id]
        )
    )
    return rows[0] if rows else None


# --- reminders -----------------------------------------------------------------------------


def claim_reminder(db: Database, area: str, day: str) -> bool:
    """Reserve the one reminder of (area, day); False when another run already made it."""
    cur = db.execute(
        "INSERT INTO garbage_reminders (area, day, created_at) VALUES (?, ?, ?) ON CONFLICT(area, day) DO NOTHING",
        [area, day, time.time()],
    )
    return cur.rowcount == 1


def record_reminder_alert(db: Database, area: str, day: str, alert_id: int | None) -> None:
    db.execute("UPDATE garbage_reminders SET alert_id = ? WHERE area = ? AND day = ?", [alert_id, area, day])


def reminder_recipients(db: Database, area: str) -> list[tuple[str, str | None]]:
    """(user_id, lang) of residents of ``area`` who asked for ごみ reminders and take deliveries."""
    return [
        (r[0], r[1])
        for r in db.execute(
            "SELECT r.user_id, r.lang FROM residents r JOIN resident_topics t ON t.user_id = r.user_id"
            " WHERE r.area = ? AND t.topic = 'garbage' AND r.delivery_stopped = 0 ORDER BY r.user_id",
            [area],
        )
    ]


def release_reminder(db: Database, area: str, day: str) -> None:
    """Undo a claim whose alert could not be made (the next run tries again)."""
    db.execute("DELETE FROM garbage_reminders WHERE area = ? AND day = ? AND alert_id IS NULL", [area, day])


# --- 粗大ごみ fee lists --------------------------------------------------------------------------


def save_fee_list(db: Database, entries: list[dict[str, Any]], by: str, source: str) -> int:
    now = time.time()
    with transaction(db):
        cur = db.execute(
            "INSERT INTO bulky_fee_lists (imported_at, imported_by, source, entries_json) VALUES (?, ?, ?, ?)",
            [now, by, source, json.dumps(entries, ensure_ascii=False)],
        )
        list_id = cur.lastrowid
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [FEES_KEY, str(list_id)],
        )
        db.execute("DELETE FROM bulky_fee_lists WHERE id <= ?", [list_id - KEEP_SETS])  # type: ignore[operator]
    return list_id  # type: ignore[return-value]


def current_fee_list(db: Database) -> tuple[int, list[dict[str, Any]]] | None:
    row = db.execute(
        "SELECT f.id, f.entries_json FROM bulky_fee_lists f JOIN settings s ON s.key = ? AND s.value = CAST(f.id AS TEXT)",
        [FEES_KEY],
    ).fetchone()
    return (row[0], json.loads(row[1])) if row else None


# --- 粗大ごみ capacity ---------------------------------------------------------------------------


def set_capacity(db: Database, area: str, day: str, capacity: int) -> None:
    """Requests one area takes on one day (``day`` = DEFAULT_DAY: the area's usual number)."""
    db.execute(
        "INSERT INTO bulky_capacity (area, day, capacity) VALUES (?, ?, ?)"
        " ON CONFLICT(area, day) DO UPDATE SET capacity = excluded.capacity",
        [area, day, capacity],
    )


def capacities(db: Database, area: str | None = None) -> list[dict[str, Any]]:
    if area is None:
        return list(db.query("SELECT area, day, capacity FROM bulky_capacity ORDER BY area, day"))
    return list(db.query("SELECT area, day, capacity FROM bulky_capacity WHERE area = ? ORDER BY day", [area]))


def capacity_for(db: Database, area: str, day: str, default: int) -> int:
    """The day's own capacity, else the area's default, else ``default``."""
    rows = dict(
        db.execute(
            "SELECT day, capacity FROM bulky_capacity WHERE area = ? AND day IN (?, ?)", [area, day, DEFAULT_DAY]
        ).fetchall()
    )
    if day in rows:
        return int(rows[day])
    return int(rows.get(DEFAULT_DAY, default))


def booked_counts(db: Database, area: str, start: str, end: str) -> dict[str, int]:
    """Bookings per day of one area between two days (inclusive)."""
    return dict(
        db.execute(
            "SELECT day, booked FROM bulky_day_counts WHERE area = ? AND day >= ? AND day <= ?", [area, start, end]
        ).fetchall()
    )


def capacities_between(db: Database, area: str, start: str, end: str) -> tuple[int | None, dict[str, int]]:
    """(the area's default capacity or None, {day: capacity set for that day})."""
    rows = db.execute(
        "SELECT day, capacity FROM bulky_capacity WHERE area = ? AND (day = ? OR (day >= ? AND day <= ?))",
        [area, DEFAULT_DAY, start, end],
    ).fetchall()
    per_day = {d: c for d, c in rows if d != DEFAULT_DAY}
    default = next((c for d, c in rows if d == DEFAULT_DAY), None)
    return default, per_day


def day_summary(db: Database, start: str, end: str) -> list[dict[str, Any]]:
    """Bookings per day and area (for the console)."""
    return list(
        db.query(
            "SELECT day, area, COUNT(*) AS n, SUM(total_fee) AS fees FROM bulky_requests"
            " WHERE status = 'booked' AND day >= ? AND day <= ? GROUP BY day, area ORDER BY day, area",
            [start, end],
        )
    )


# --- 粗大ごみ requests ---------------------------------------------------------------------------


class DayFull(Exception):
    """The chosen day has no capacity left (someone else took the last place)."""


def book_request(
    db: Database,
    *,
    user_id: str | None,
    area: str,
    address: str,
    day: str,
    items: list[dict[str, Any]],
    total_fee: int,
    lang: str | None,
    capacity: int,
    receipt_prefix: str,
) -> BulkyRequest:
    """Insert a booking if the day still has room (checked inside the write transaction)."""
    now = time.time()
    if capacity < 1:
        raise DayFull(day)
    with transaction(db):
        taken = db.execute(
            "INSERT INTO bulky_day_counts (area, day, booked) VALUES (?, ?, 1)"
            " ON CONFLICT(area, day) DO UPDATE SET booked = bulky_day_counts.booked + 1"
            " WHERE bulky_day_counts.booked < ? RETURNING booked",
            [area, day, capacity],
        ).fetchall()
        if not taken:
            raise DayFull(day)
        cur = db.execute(
            "INSERT INTO bulky_requests (receipt, user_id, area, address, day, items_json, total_fee, lang, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?)",
            [
                f"tmp-{uuid.uuid4().hex}",
                user_id,
                area,
                address,
                day,
                json.dumps(items, ensure_ascii=False),
                total_fee,
                lang,
                now,
            ],
        )
        rid = cur.lastrowid
        # The 受付番号 follows the row id, so it is unique without a second counter.
        receipt = f"{receipt_prefix}{rid:06d}"
        db.execute("UPDATE bulky_requests SET receipt = ? WHERE id = ?", [receipt, rid])
    return get_request(db, rid)  # type: ignore[arg-type, return-value]


class BulkyRequest(TypedDict):
    """A 粗大ごみ collection request as stored (read by key in the chat, the console and its CSV)."""

    id: int
    receipt: str  # 受付番号
    user_id: str | None  # cleared on unfollow
    area: str
    address: str
    day: str  # ISO date of the collection
    items: list[dict[str, Any]]  # the fee list's items as chosen, with their fees
    total_fee: int
    lang: str | None
    status: BulkyStatus
    created_at: float
    cancelled_at: float | None
    cancelled_by: str | None
    cancel_reason: str | None


def _request_row(row: dict[str, Any]) -> BulkyRequest:
    return record(BulkyRequest, row)


def get_request(db: Database, request_id: int) -> BulkyRequest | None:
    rows = list(db.query("SELECT * FROM bulky_requests WHERE id = ?", [request_id]))
    return _request_row(rows[0]) if rows else None


def user_requests(db: Database, user_id: str, from_day: str) -> list[BulkyRequest]:
    """A resident's bookings on or after ``from_day`` (cancelled ones included, newest day last)."""
    return [
        _request_row(r)
        for r in db.query(
            "SELECT * FROM bulky_requests WHERE user_id = ? AND day >= ? ORDER BY day, id", [user_id, from_day]
        )
    ]


def requests_between(db: Database, start: str, end: str, area: str | None = None) -> list[BulkyRequest]:
    sql = "SELECT * FROM bulky_requests WHERE day >= ? AND day <= ?"
    params: list[Any] = [start, end]
    if area:
        sql += " AND area = ?"
        params.append(area)
    return [_request_row(r) for r in db.query(sql + " ORDER BY day, area, id", params)]


NOTICE_KIND = "bulky_cancel"  # shared outbox kind of the message telling a resident


def cancel_request(
    db: Database,
    request_id: int,
    by: str,
    reason: str | None,
    user_id: str | None = None,
    notice: list[dict[str, Any]] | None = None,
) -> bool:
    """Cancel a booked request (only the resident's own when ``user_id`` is given); frees its place.

    ``notice``: LINE messages for the resident, queued in the shared outbox in the same
    transaction (the cancellation and its one message commit together, or neither).
    """
    sql = (
        "UPDATE bulky_requests SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?, cancel_reason = ?"
        " WHERE id = ? AND status = 'booked'"
    )
    params: list[Any] = [time.time(), by, reason, request_id]
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    with transaction(db):
        rows = db.execute(sql + " RETURNING area, day, user_id, lang", params).fetchall()
        if not rows:
            return False
        area, day, resident, lang = rows[0]
        db.execute(
            "UPDATE bulky_day_counts SET booked = booked - 1 WHERE area = ? AND day = ? AND booked > 0", [area, day]
        )
        if notice and resident:
            outbox_store.enqueue_push(db, NOTICE_KIND, request_id, resident, notice, lang or "ja")
    return True


# --- 粗大ごみ conversation state --------------------------------------------------------------


def get_draft(db: Database, user_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT state_json FROM bulky_drafts WHERE user_id = ?", [user_id]).fetchone()
    return json.loads(row[0]) if row else None


def save_draft(db: Database, user_id: str, state: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO bulky_drafts (user_id, state_json, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at",
        [user_id, json.dumps(state, ensure_ascii=False), time.time()],
    )


def drop_draft(db: Database, user_id: str) -> None:
    db.execute("DELETE FROM bulky_drafts WHERE user_id = ?", [user_id])


def expire_drafts(db: Database, older_than_seconds: float, now: float | None = None) -> int:
    """Forget 粗大ごみ requests left unfinished (they hold an address being typed)."""
    cutoff = (time.time() if now is None else now) - older_than_seconds
    return db.execute("DELETE FROM bulky_drafts WHERE updated_at < ?", [cutoff]).rowcount


def forget_user(db: Database, user_id: str) -> None:
    """Unfollow: the draft goes; bookings stay for the collection but lose the LINE id."""
    db.execute("DELETE FROM bulky_drafts WHERE user_id = ?", [user_id])
    db.execute("UPDATE bulky_requests SET user_id = NULL WHERE user_id = ?", [user_id])
