"""SQL for residents (subscribers): area, language, topics, delivery stop.

A row exists only while the resident follows the account: unfollow deletes it (and the
topics), and only anonymous counters (`resident_counters`) remain.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from store import garbage as garbage_store
from store import opinions as opinion_store
from store import outbox as outbox_store
from store import reports as report_store
from store import surveys as survey_store
from store import transaction
from store.records import record
from store.vocab import Topic

migrations = Migrations("madoguchi.residents")

# 防災 is always on; the others are opt-in.
ALWAYS_TOPIC = Topic.DISASTER
TOPICS = tuple(Topic)
_FIELDS = ("area", "lang", "lang_source", "topics", "delivery_stopped", "safety_stopped", "reg_step")


@migrations(name="0001_residents")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE residents (
            user_id TEXT PRIMARY KEY,
            area TEXT,
            lang TEXT,
            lang_source TEXT,
            delivery_stopped INTEGER NOT NULL DEFAULT 0,
            reg_step TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX residents_area ON residents(area)")
    db.execute(
        """CREATE TABLE resident_topics (
            user_id TEXT NOT NULL REFERENCES residents(user_id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            PRIMARY KEY (user_id, topic)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX resident_topics_topic ON resident_topics(topic, user_id)")
    db.execute("CREATE TABLE resident_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")


@migrations(name="0002_safety_stop")
def _m0002(db: Database) -> None:
    # 配信停止 stops ordinary notices only; life-safety alerts need this second, explicit stop.
    db.execute("ALTER TABLE residents ADD COLUMN safety_stopped INTEGER NOT NULL DEFAULT 0")


@dataclass(frozen=True, slots=True)
class Resident:
    """A follower's settings (frozen: a change goes through `set_resident`, then a fresh read)."""

    user_id: str
    area: str | None  # an area code of AREAS_CSV; None = not chosen (receives every area's alerts)
    lang: str | None
    lang_source: str | None  # "profile" (LINE's setting) | "choice" (they picked it) | None
    topics: tuple[Topic, ...]  # always with 防災 first when they did not list it
    delivery_stopped: bool  # ordinary notices stopped (配信停止)
    safety_stopped: bool  # life-safety alerts stopped too (only after a warning)
    reg_step: str | None  # the registration question in progress; None when done


def _resident(db: Database, row: dict[str, Any]) -> Resident:
    topics = [
        Topic(r[0])
        for r in db.execute("SELECT topic FROM resident_topics WHERE user_id = ? ORDER BY topic", [row["user_id"]])
    ]
    if ALWAYS_TOPIC not in topics:
        topics.insert(0, ALWAYS_TOPIC)
    return record(Resident, row, topics=tuple(topics))


def get_resident(db: Database, user_id: str) -> Resident | None:
    """The resident's settings, or None when they are not (or no longer) registered."""
    rows = list(db.query("SELECT * FROM residents WHERE user_id = ?", [user_id]))
    return _resident(db, rows[0]) if rows else None


def set_resident(db: Database, user_id: str, **fields: Any) -> None:
    """Create or update a resident; only the given fields change.

    Fields: area, lang, lang_source ("profile" | "choice" | None), topics (iterable of
    topic names; 防災 is always kept), delivery_stopped (bool: ordinary notices stopped),
    safety_stopped (bool: life-safety alerts stopped too — only together with delivery_stopped,
    so a restart or a half-set state never leaves someone without evacuation orders by accident),
    reg_step (registration progress).
    """
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown resident field(s): {', '.join(sorted(unknown))}")
    now = time.time()
    with transaction(db):
        created = db.execute(
            "INSERT OR IGNORE INTO residents (user_id, created_at, updated_at) VALUES (?, ?, ?)", [user_id, now, now]
        ).rowcount
        if created:
            _bump(db, "follows")
        cols = [k for k in fields if k != "topics"]
        if cols:
            values = [int(bool(fields[k])) if k in ("delivery_stopped", "safety_stopped") else fields[k] for k in cols]
            db.execute(
                f"UPDATE residents SET {', '.join(f'{c} = ?' for c in cols)}, updated_at = ? WHERE user_id = ?",
                [*values, now, user_id],
            )
        # Life-safety alerts are stopped only on top of ordinary notices; restarting restores both.
        db.execute(
            "UPDATE residents SET safety_stopped = 0 WHERE user_id = ? AND delivery_stopped = 0 AND safety_stopped = 1",
            [user_id],
        )
        if "topics" in fields:
            topics = {ALWAYS_TOPIC, *(fields["topics"] or ())}
            bad = topics - set(TOPICS)
            if bad:
                raise ValueError(f"unknown topic(s): {', '.join(sorted(bad))}")
            db.execute("DELETE FROM resident_topics WHERE user_id = ?", [user_id])
            db.conn.executemany(
                "INSERT INTO resident_topics (user_id, topic) VALUES (?, ?)", [(user_id, t) for t in sorted(topics)]
            )
            db.execute("UPDATE residents SET updated_at = ? WHERE user_id = ?", [now, user_id])


def delete_resident(db: Database, user_id: str) -> None:
    """Forget everything about a resident (unfollow); only an anonymous counter changes."""
    with transaction(db):
        deleted = db.execute("DELETE FROM residents WHERE user_id = ?", [user_id]).rowcount
        db.execute("DELETE FROM resident_topics WHERE user_id = ?", [user_id])
        # Outbox lists name the user too; the alert keeps only its counts.
        db.execute("DELETE FROM alert_recipients WHERE user_id = ?", [user_id])
        # A staff phone in the alert test audience is forgotten too.
        db.execute("DELETE FROM alert_testers WHERE user_id = ?", [user_id])
        # Their reports stay, anonymous; a report in progress and unsent status messages go.
        report_store.forget_user(db, user_id)
        garbage_store.forget_user(db, user_id)
        outbox_store.forget_user(db, user_id)
        survey_store.forget_user(db, user_id)
        opinion_store.forget_user(db, user_id)
        if deleted:
            _bump(db, "unfollows")


def _bump(db: Database, name: str, by: int = 1) -> None:
    db.execute(
        "INSERT INTO resident_counters (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n",
        [name, by],
    )


def resident_counts(db: Database) -> dict[str, Any]:
    """Anonymous counts for the dashboard: total, by area, by language (plus follow/unfollow totals)."""
    total = db.execute("SELECT COUNT(*) FROM residents").fetchone()[0]
    by_area = {(a or "-"): n for a, n in db.execute("SELECT area, COUNT(*) FROM residents GROUP BY area")}
    by_lang = {(lang or "-"): n for lang, n in db.execute("SELECT lang, COUNT(*) FROM residents GROUP BY lang")}
    stopped = db.execute("SELECT COUNT(*) FROM residents WHERE delivery_stopped = 1").fetchone()[0]
    safety_stopped = db.execute("SELECT COUNT(*) FROM residents WHERE safety_stopped = 1").fetchone()[0]
    counters = {name: n for name, n in db.execute("SELECT name, n FROM resident_counters")}
    return {
        "total": total,
        "by_area": by_area,
        "by_lang": by_lang,
        "delivery_stopped": stopped,
        "safety_stopped": safety_stopped,
        "follows": counters.get("follows", 0),
        "unfollows": counters.get("unfollows", 0),
    }


def _target_sql(
    areas: Sequence[str],
    langs: Sequence[str],
    topics: Sequence[str],
    testers_only: bool = False,
    life_safety: bool = False,
    select: str = "r.user_id, r.lang, r.area",
) -> tuple[str, list[Any]]:
    # 配信停止 stops ordinary notices; a life-safety alert still reaches those residents unless
    # they also stopped life-safety alerts (a second, explicit step after a warning).
    stop = "r.safety_stopped = 0" if life_safety else "r.delivery_stopped = 0"
    sql = f"SELECT {select} FROM residents r WHERE {stop}"
    params: list[Any] = []
    if testers_only:
        # Exercise/test alerts limited to the staff test audience (store/alerts.py: alert_testers).
        sql += " AND r.user_id IN (SELECT user_id FROM alert_testers)"
    if areas:
        # Residents who have not chosen an area receive every area's alerts.
        sql += f" AND (r.area IS NULL OR r.area IN ({', '.join('?' for _ in areas)}))"
        params += list(areas)
    if langs:
        sql += f" AND r.lang IN ({', '.join('?' for _ in langs)})"
        params += list(langs)
    extra = [t for t in topics if t != ALWAYS_TOPIC]
    if extra:
        sql += (
            " AND EXISTS (SELECT 1 FROM resident_topics rt WHERE rt.user_id = r.user_id"
            f" AND rt.topic IN ({', '.join('?' for _ in extra)}))"
        )
        params += extra
    return sql, params


def iter_recipients(
    db: Database,
    areas: Sequence[str] = (),
    langs: Sequence[str] = (),
    topics: Sequence[str] = (),
    testers_only: bool = False,
    life_safety: bool = False,
) -> Iterator[tuple[str, str | None, str | None]]:
    """(user_id, lang, area) of every resident an alert with this targeting reaches, ordered by id.

    `life_safety` alerts (evacuation orders of level 4+, earthquakes, shelter openings) also reach
    residents who sent 配信停止, unless they stopped life-safety alerts too.
    """
    sql, params = _target_sql(areas, langs, topics, testers_only, life_safety)
    yield from db.execute(sql + " ORDER BY r.user_id", params)


def count_recipients_by_lang(
    db: Database,
    areas: Sequence[str] = (),
    langs: Sequence[str] = (),
    topics: Sequence[str] = (),
    testers_only: bool = False,
    life_safety: bool = False,
) -> dict[str | None, int]:
    """How many residents the targeting reaches, per stored language (None = not chosen)."""
    sql, params = _target_sql(areas, langs, topics, testers_only, life_safety, select="r.lang")
    return {lang: n for lang, n in db.execute(f"SELECT t.lang, COUNT(*) FROM ({sql}) t GROUP BY t.lang", params)}


def bulk_add_residents(db: Database, rows: Iterable[dict[str, Any]]) -> int:
    """Insert many residents at once (tests, benchmarks, migration from another system)."""
    now = time.time()
    n = 0
    people: list[list[Any]] = []
    topics: list[list[Any]] = []

    def flush() -> None:
        # executemany: one prepared statement per chunk (pipelined on PostgreSQL).
        if people:
            db.conn.executemany(
                "INSERT OR REPLACE INTO residents (user_id, area, lang, lang_source, delivery_stopped, safety_stopped,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                people,
            )
        if topics:
            db.conn.executemany("INSERT OR IGNORE INTO resident_topics (user_id, topic) VALUES (?, ?)", topics)
        people.clear()
        topics.clear()

    with transaction(db):
        for row in rows:
            people.append(
                [
                    row["user_id"],
                    row.get("area"),
                    row.get("lang"),
                    row.get("lang_source"),
                    int(bool(row.get("delivery_stopped"))),
                    int(bool(row.get("delivery_stopped")) and bool(row.get("safety_stopped"))),
                    now,
                    now,
                ]
            )
            topics.extend([row["user_id"], t] for t in row.get("topics") or () if t != ALWAYS_TOPIC)
            n += 1
            if len(people) >= 1000:
                flush()
        flush()
    return n
