"""SQL for opinions (ご意見・ご提案): the dialogue in progress, the opinions, notes and replies.

The LINE id sits only on the opinion (to push the reply) and on the draft; staff see a
pseudonym. On unfollow an opinion staff have not answered is deleted with its notes and
photos; an answered one stays, anonymised (LINE id and pseudonym removed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, TypedDict

from sqlite_utils import Database, Migrations

from store.records import record
from store.vocab import OpinionStatus

migrations = Migrations("madoguchi.opinions")


@migrations(name="0001_opinions")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE opinion_drafts (
            user_id TEXT PRIMARY KEY,
            state_json TEXT NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE opinions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT,
            author TEXT,
            area TEXT,
            lang TEXT NOT NULL DEFAULT 'ja',
            topic TEXT NOT NULL,
            department TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL,
            photo_full TEXT,
            photo_thumb TEXT,
            wants_reply INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'received',
            anonymised INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            answered_at REAL
        )"""
    )
    db.execute("CREATE INDEX opinions_created ON opinions(created_at)")
    db.execute("CREATE INDEX opinions_user ON opinions(user_id)")
    db.execute(
        """CREATE TABLE opinion_notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            opinion_id INTEGER NOT NULL REFERENCES opinions(id) ON DELETE CASCADE,
            author TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE opinion_replies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            opinion_id INTEGER NOT NULL REFERENCES opinions(id) ON DELETE CASCADE,
            body TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'draft',
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            approved_by TEXT,
            approved_at REAL
        )"""
    )


# --- the dialogue in progress --------------------------------------------------------------------


def get_draft(db: Database, user_id: str, max_age: float) -> dict[str, Any] | None:
    row = db.execute("SELECT state_json, updated_at FROM opinion_drafts WHERE user_id = ?", [user_id]).fetchone()
    if row is None:
        return None
    if row[1] < time.time() - max_age:
        return None
    return json.loads(row[0])


def save_draft(db: Database, user_id: str, state: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO opinion_drafts (user_id, state_json, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at",
        [user_id, json.dumps(state, ensure_ascii=False), time.time()],
    )


def delete_draft(db: Database, user_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT state_json FROM opinion_drafts WHERE user_id = ?", [user_id]).fetchone()
    db.execute("DELETE FROM opinion_drafts WHERE user_id = ?", [user_id])
    return json.loads(row[0]) if row else None


def stale_drafts(db: Database, older_than: float) -> list[dict[str, Any]]:
    rows = db.execute("SELECT user_id, state_json FROM opinion_drafts WHERE updated_at < ?", [older_than]).fetchall()
    return [{"user_id": r[0], **json.loads(r[1])} for r in rows]


# --- opinions ----------------------------------------------------------------------------------


def insert_opinion(db: Database, row: dict[str, Any]) -> int:
    now = time.time()
    cur = db.execute(
        "INSERT INTO opinions (user_id, author, area, lang, topic, department, body, photo_full, photo_thumb,"
        " wants_reply, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            row["user_id"],
            row["author"],
            row.get("area"),
            row.get("lang") or "ja",
            row["topic"],
            row.get("department") or "",
            row["body"],
            row.get("photo_full"),
            row.get("photo_thumb"),
            1 if row.get("wants_reply") else 0,
            now,
            now,
        ],
    )
    return int(cur.fetchone()[0])


class Opinion(TypedDict):
    """An opinion as staff see it: never the LINE id, only whether the author can still be reached
    (a TypedDict like alerts and reports: console templates read it by key)."""

    id: int
    author: str | None  # the pseudonym staff see
    area: str | None
    lang: str
    topic: str
    department: str
    body: str
    photo_full: str | None
    photo_thumb: str | None
    wants_reply: bool
    status: OpinionStatus
    anonymised: bool  # the author unfollowed after an answer: LINE id and pseudonym removed
    created_at: float
    updated_at: float
    answered_at: float | None
    reachable: bool  # still a friend with a LINE id on file: a reply can be sent


def _opinion(row: dict[str, Any]) -> Opinion:
    return record(Opinion, row)


_PUBLIC = (
    "id, author, area, lang, topic, department, body, photo_full, photo_thumb, wants_reply, status, anonymised,"
    " created_at, updated_at, answered_at, user_id IS NOT NULL AS reachable"
)


def get_opinion(db: Database, opinion_id: int) -> Opinion | None:
    rows = list(db.query(f"SELECT {_PUBLIC} FROM opinions WHERE id = ?", [opinion_id]))
    return _opinion(rows[0]) if rows else None


def opinion_user(db: Database, opinion_id: int) -> str | None:
    row = db.execute("SELECT user_id FROM opinions WHERE id = ?", [opinion_id]).fetchone()
    return row[0] if row else None


def list_opinions(db: Database, filters: dict[str, Any], limit: int = 200) -> list[Opinion]:
    sql = f"SELECT {_PUBLIC} FROM opinions WHERE 1 = 1"
    params: list[Any] = []
    for key in ("status", "topic", "area", "department"):
        if filters.get(key):
            sql += f" AND {key} = ?"
            params.append(filters[key])
    if filters.get("start") is not None:
        sql += " AND created_at >= ?"
        params.append(filters["start"])
    if filters.get("end") is not None:
        sql += " AND created_at < ?"
        params.append(filters["end"])
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [_opinion(r) for r in db.query(sql, params)]


def update_opinion(db: Database, opinion_id: int, **fields: Any) -> bool:
    fields["updated_at"] = time.time()
    sets = ", ".join(f"{k} = ?" for k in fields)
    return db.execute(f"UPDATE opinions SET {sets} WHERE id = ?", [*fields.values(), opinion_id]).rowcount == 1


def count_today(db: Database, user_id: str, since: float) -> int:
    return int(
        db.execute("SELECT COUNT(*) FROM opinions WHERE user_id = ? AND created_at >= ?", [user_id, since]).fetchone()[
            0
        ]
    )


def monthly_counts(db: Database, start: float, end: float) -> list[tuple[str, str | None, str, int]]:
    """(topic, area, status, n) of the opinions received in [start, end)."""
    return [
        (r[0], r[1], r[2], int(r[3]))
        for r in db.execute(
            "SELECT topic, area, status, COUNT(*) FROM opinions WHERE created_at >= ? AND created_at < ?"
            " GROUP BY topic, area, status ORDER BY topic, area, status",
            [start, end],
        )
    ]


# --- notes and replies -------------------------------------------------------------------------------


def add_note(db: Database, opinion_id: int, author: str, body: str) -> None:
    db.execute(
        "INSERT INTO opinion_notes (opinion_id, author, body, created_at) VALUES (?, ?, ?, ?)",
        [opinion_id, author, body, time.time()],
    )


def notes(db: Database, opinion_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM opinion_notes WHERE opinion_id = ? ORDER BY id", [opinion_id]))


def add_reply(db: Database, opinion_id: int, body: str, by: str) -> int:
    cur = db.execute(
        "INSERT INTO opinion_replies (opinion_id, body, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        [opinion_id, body, by, time.time()],
    )
    return int(cur.fetchone()[0])


def replies(db: Database, opinion_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM opinion_replies WHERE opinion_id = ? ORDER BY id", [opinion_id]))


def get_reply(db: Database, reply_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM opinion_replies WHERE id = ?", [reply_id]))
    return rows[0] if rows else None


def set_reply_state(db: Database, reply_id: int, expect: Sequence[str], **fields: Any) -> bool:
    sets = ", ".join(f"{k} = ?" for k in fields)
    marks = ", ".join("?" for _ in expect)
    return (
        db.execute(
            f"UPDATE opinion_replies SET {sets} WHERE id = ? AND state IN ({marks})",
            [*fields.values(), reply_id, *expect],
        ).rowcount
        == 1
    )


def pending_replies(db: Database) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT r.*, o.topic, o.department FROM opinion_replies r JOIN opinions o ON o.id = r.opinion_id"
            " WHERE r.state = 'draft' ORDER BY r.id"
        )
    )


# --- privacy -----------------------------------------------------------------------------------


def trash_media(db: Database, names: Sequence[str]) -> None:
    """Photos to delete: the media sweep of the delivery worker removes them from MEDIA_DIR."""
    now = time.time()
    for name in names:
        if name:
            db.execute(
                "INSERT INTO media_trash (name, added_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [name, now]
            )


def forget_user(db: Database, user_id: str) -> None:
    """Unfollow: unanswered opinions go (photos to the media trash); answered ones stay, anonymous.

    Runs inside the caller's transaction (store.residents.delete_resident).
    """
    photos = [
        name
        for row in db.execute(
            "SELECT photo_full, photo_thumb FROM opinions WHERE user_id = ? AND status != 'answered'", [user_id]
        ).fetchall()
        for name in row
        if name
    ]
    draft = db.execute("SELECT state_json FROM opinion_drafts WHERE user_id = ?", [user_id]).fetchone()
    if draft:
        photo = json.loads(draft[0]).get("photo") or {}
        photos += [n for n in (photo.get("full"), photo.get("thumb")) if n]
    trash_media(db, photos)
    ids = [
        r[0]
        for r in db.execute("SELECT id FROM opinions WHERE user_id = ? AND status != 'answered'", [user_id]).fetchall()
    ]
    for oid in ids:
        db.execute("DELETE FROM opinion_notes WHERE opinion_id = ?", [oid])
        db.execute("DELETE FROM opinion_replies WHERE opinion_id = ?", [oid])
        db.execute("DELETE FROM opinions WHERE id = ?", [oid])
    db.execute("UPDATE opinions SET user_id = NULL, author = NULL, anonymised = 1 WHERE user_id = ?", [user_id])
    db.execute("DELETE FROM opinion_drafts WHERE user_id = ?", [user_id])
