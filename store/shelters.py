"""SQL for the shelters domain: shelter data, live status, status history, data version.

Reads return frozen records (`Shelter`, `StatusChange`): typed, and they cannot grow keys on the
way to a page; what a caller adds (a distance, the public JSON shape) is a new object.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from store.dialect import is_postgres
from store.records import record
from store.vocab import ShelterStatus

migrations = Migrations("madoguchi.shelters")


@dataclass(frozen=True, slots=True)
class Shelter:
    """A shelter as stored: the source file's data, its live status, withdrawn when the source dropped it."""

    source_id: str  # the source's own id (ID / 共通ID)
    name: str
    kana: str
    address: str
    lat: float
    lon: float
    hazard_bits: int  # bit i = suitable for shelters.importer.HAZARDS[i]
    capacity: int | None
    areas: tuple[str, ...]  # 対象となる町会・自治会
    is_shelter: bool  # also a 指定避難所 (not only a 緊急避難場所)
    url: str
    municipality: str
    source_format: str
    source_name: str
    created_at: float
    data_updated_at: float
    status: ShelterStatus
    head_count: int | None
    status_updated_at: float | None
    status_by: str | None
    withdrawn_at: float | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Shelter:
        return record(cls, row, areas=tuple(a for a in row["areas"].split("|") if a))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One line of a shelter's status history."""

    id: int
    source_id: str
    at: float
    status: ShelterStatus
    previous_status: ShelterStatus | None
    head_count: int | None
    by: str
    via: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StatusChange:
        # (record() would turn the empty previous status of a shelter's first change into an error)
        previous = row["previous_status"]
        return record(cls, row, previous_status=ShelterStatus(previous) if previous else None)


# Columns that come from the source file (an import replaces these and nothing else).
DATA_COLUMNS = (
    "name",
    "kana",
    "address",
    "lat",
    "lon",
    "hazard_bits",
    "capacity",
    "areas",
    "is_shelter",
    "url",
    "municipality",
)


@migrations(name="0001_shelters")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE shelters (
            source_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kana TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            hazard_bits INTEGER NOT NULL DEFAULT 0,
            capacity INTEGER,
            areas TEXT NOT NULL DEFAULT '',
            is_shelter INTEGER NOT NULL DEFAULT 0,
            url TEXT NOT NULL DEFAULT '',
            municipality TEXT NOT NULL DEFAULT '',
            source_format TEXT NOT NULL DEFAULT '',
            source_name TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            data_updated_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'closed'
                CHECK (status IN ('closed', 'open', 'crowded', 'full')),
            head_count INTEGER,
            status_updated_at REAL,
            status_by TEXT
        )"""
    )
    db.execute("CREATE INDEX shelters_status ON shelters(status)")
    db.execute(
        """CREATE TABLE shelter_status_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source_id TEXT NOT NULL REFERENCES shelters(source_id),
            at REAL NOT NULL,
            status TEXT NOT NULL,
            previous_status TEXT,
            head_count INTEGER,
            by TEXT NOT NULL,
            via TEXT NOT NULL DEFAULT 'cli'
        )"""
    )
    db.execute("CREATE INDEX shelter_status_log_shelter ON shelter_status_log(source_id, id)")
    # One counter bumped by every import and status change: in-process caches compare it.
    db.execute("CREATE TABLE shelter_data_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
    db.execute("INSERT INTO shelter_data_version (id, version) VALUES (1, 0)")


@migrations(name="0002_shelters_withdrawn")
def _m0002(db: Database) -> None:
    # A shelter missing from a re-import of its source is withdrawn, not deleted: its status
    # history stays, residents and exports stop seeing it, a later import can reinstate it.
    db.execute("ALTER TABLE shelters ADD COLUMN withdrawn_at REAL")


class MassWithdrawal(ValueError):
    """A re-import would withdraw more than half of the shelters it covers."""

    def __init__(self, withdrawn: int, covered: int) -> None:
        super().__init__(
            f"この取り込みで {covered} か所中 {withdrawn} か所の避難所が一覧から外れます。"
            "ファイルが正しいか確認してください（意図したものなら --allow-withdraw を付けて再実行）。"
        )
        self.withdrawn = withdrawn
        self.covered = covered


def data_version(db: Database) -> int:
    """The counter that changes whenever shelter data or a status changes."""
    row = db.execute("SELECT version FROM shelter_data_version WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def bump_version(db: Database) -> None:
    db.execute("UPDATE shelter_data_version SET version = version + 1 WHERE id = 1")


def count_shelters(db: Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM shelters WHERE withdrawn_at IS NULL").fetchone()[0])


def has_shelters(db: Database) -> bool:
    return db.execute("SELECT 1 FROM shelters LIMIT 1").fetchone() is not None


def upsert_shelters(
    db: Database,
    rows: Iterable[dict[str, Any]],
    source_format: str,
    source_name: str,
    now: float | None = None,
    allow_mass_withdrawal: bool = False,
    scope_formats: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Insert new shelters and update the data of known ones by source_id (status untouched).

    A re-import is the source's whole list: a shelter of the same source (one of
    ``scope_formats``, default just ``source_format``) and municipality that the file no longer
    contains is withdrawn (kept with its history, hidden from residents and exports); one that
    comes back is reinstated. Withdrawing more than half of the shelters the file covers raises
    MassWithdrawal unless ``allow_mass_withdrawal``.
    Call inside a transaction. Returns counts (added, updated, unchanged, withdrawn, reinstated)
    and ``withdrawn_ids``.
    """
    now = now if now is not None else time.time()
    rows = list(rows)
    existing = {
        r["source_id"]: r
        for r in db.query(f"SELECT source_id, {', '.join(DATA_COLUMNS)}, source_format, withdrawn_at FROM shelters")
    }
    counts = {"added": 0, "updated": 0, "unchanged": 0, "withdrawn": 0, "reinstated": 0}
    in_file = {row["source_id"] for row in rows}
    municipalities = {row["municipality"] for row in rows}
    formats = set(scope_formats or (source_format,))
    covered = [
        sid
        for sid, r in existing.items()
        if r["source_format"] in formats and r["municipality"] in municipalities and r["withdrawn_at"] is None
    ]
    withdraw = sorted(sid for sid in covered if sid not in in_file)
    if withdraw and len(withdraw) * 2 > len(covered) and not allow_mass_withdrawal:
        raise MassWithdrawal(len(withdraw), len(covered))
    reinstate = [sid for sid in in_file if sid in existing and existing[sid]["withdrawn_at"] is not None]
    inserts: list[list[Any]] = []
    updates: list[list[Any]] = []
    for row in rows:
        values = [row[c] for c in DATA_COLUMNS]
        old = existing.get(row["source_id"])
        if old is None:
            inserts.append([row["source_id"], *values, source_format, source_name, now, now])
            counts["added"] += 1
        elif any(old[c] != row[c] for c in DATA_COLUMNS):
            updates.append([*values, source_format, source_name, now, row["source_id"]])
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    cols = ", ".join(DATA_COLUMNS)
    marks = ", ".join("?" for _ in DATA_COLUMNS)
    if inserts:
        db.conn.executemany(
            f"INSERT INTO shelters (source_id, {cols}, source_format, source_name, created_at, data_updated_at)"
            f" VALUES (?, {marks}, ?, ?, ?, ?)",
            inserts,
        )
    if updates:
        sets = ", ".join(f"{c} = ?" for c in DATA_COLUMNS)
        db.conn.executemany(
            f"UPDATE shelters SET {sets}, source_format = ?, source_name = ?, data_updated_at = ? WHERE source_id = ?",
            updates,
        )
    if withdraw:
        db.conn.executemany("UPDATE shelters SET withdrawn_at = ? WHERE source_id = ?", [[now, s] for s in withdraw])
        counts["withdrawn"] = len(withdraw)
    if reinstate:
        db.conn.executemany("UPDATE shelters SET withdrawn_at = NULL WHERE source_id = ?", [[s] for s in reinstate])
        counts["reinstated"] = len(reinstate)
    if inserts or updates or withdraw or reinstate:
        bump_version(db)
    return {**counts, "withdrawn_ids": withdraw}


def all_shelters(db: Database) -> list[Shelter]:
    """Every shelter in service (withdrawn ones left out)."""
    return [
        Shelter.from_row(r) for r in db.query("SELECT * FROM shelters WHERE withdrawn_at IS NULL ORDER BY source_id")
    ]


def get_shelter(db: Database, source_id: str) -> Shelter | None:
    rows = list(db.query("SELECT * FROM shelters WHERE source_id = ?", [source_id]))
    return Shelter.from_row(rows[0]) if rows else None


def shelters_by_ids(db: Database, source_ids: Sequence[str]) -> list[Shelter]:
    if not source_ids:
        return []
    marks = ", ".join("?" for _ in source_ids)
    by_id = {
        r["source_id"]: Shelter.from_row(r)
        for r in db.query(
            f"SELECT * FROM shelters WHERE withdrawn_at IS NULL AND source_id IN ({marks})", list(source_ids)
        )
    }
    return [by_id[s] for s in source_ids if s in by_id]


def shelters_for_area(db: Database, area_name: str) -> list[Shelter]:
    """Shelters whose 対象となる町会・自治会 lists `area_name` (areas stored '|'-joined)."""
    return [
        Shelter.from_row(r)
        for r in db.query(
            "SELECT * FROM shelters WHERE withdrawn_at IS NULL AND '|' || areas || '|' LIKE ? ORDER BY source_id",
            ["%|" + area_name.replace("%", "").replace("_", "") + "|%"],
        )
    ]


def position_rows(db: Database) -> list[tuple[str, float, float, int, str]]:
    """(source_id, lat, lon, hazard_bits, status) of every shelter, for the nearest-search arrays."""
    # Insertion order: rowid on SQLite; PostgreSQL has none, creation time then id is the same order.
    order = "created_at, source_id" if is_postgres(db) else "rowid"
    return [
        tuple(r)
        for r in db.execute(
            f"SELECT source_id, lat, lon, hazard_bits, status FROM shelters WHERE withdrawn_at IS NULL ORDER BY {order}"
        )
    ]


def database_key(db: Database) -> str:
    """Identifies the database a connection reads (key of in-process caches)."""
    if is_postgres(db):
        return db.url  # type: ignore[attr-defined]
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or f"memory:{id(db)}"


def update_status(
    db: Database, source_id: str, status: str, head_count: int | None, by: str, via: str, now: float | None = None
) -> ShelterStatus | None:
    """Set a shelter's status and log the change (call inside a transaction); returns the previous status."""
    now = now if now is not None else time.time()
    row = db.execute("SELECT status FROM shelters WHERE source_id = ?", [source_id]).fetchone()
    if row is None:
        raise LookupError(source_id)
    previous = ShelterStatus(row[0])
    db.execute(
        "UPDATE shelters SET status = ?, head_count = ?, status_updated_at = ?, status_by = ? WHERE source_id = ?",
        [status, head_count, now, by, source_id],
    )
    db.execute(
        "INSERT INTO shelter_status_log (source_id, at, status, previous_status, head_count, by, via)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [source_id, now, status, previous, head_count, by, via],
    )
    bump_version(db)
    return previous


def status_log(db: Database, source_id: str, limit: int = 500) -> list[StatusChange]:
    return [
        StatusChange.from_row(r)
        for r in db.query(
            "SELECT id, source_id, at, status, previous_status, head_count, by, via FROM shelter_status_log"
            " WHERE source_id = ? ORDER BY id DESC LIMIT ?",
            [source_id, limit],
        )
    ]
