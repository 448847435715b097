"""Shelter operations other parts call: import, status, nearest search, public records.

Everything here takes a sqlite-utils `Database` (the caller's connection) and returns plain
dicts, so the CLI, the bot, the public endpoints and the operator console share it.
Changing data or status never notifies anyone: opening a shelter only *offers* a pre-filled
alert (`opening_alert_fields`) that goes through the alerts feature's two-person approval.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

import wardtime
from common.areas import Areas
from common.i18n import t
from nlp.normalize import normalize
from shelters.importer import HAZARD_COLUMNS, HAZARDS, SAME_SOURCE_FORMATS, ParsedFile, ShelterRecord, read_shelters
from store import Store, audit, transaction
from store import shelters as shelter_store
from store.shelters import Shelter
from store.vocab import SHELTER_STATUS, SHELTER_TAKING_IN, ShelterStatus

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
JST = timezone(timedelta(hours=9))
EARTH_RADIUS_M = 6_371_008.8
# What staff may type for a status besides its code: the words either audience reads (the catalog's
# Japanese for residents, so a word seen in LINE works on the command line too), and two shorthands.
STATUS_ALIASES: dict[str, ShelterStatus] = {
    **{label: code for code, label in SHELTER_STATUS.staff.items()},
    **{t(SHELTER_STATUS.resident_key(code), "ja"): code for code in ShelterStatus},
    "開設中": ShelterStatus.OPEN,
    "満": ShelterStatus.FULL,
}
_STATUS_CODE: dict[str, int] = {s: i for i, s in enumerate(ShelterStatus)}  # by code: rows carry plain strings


# Far above any shelter's capacity, far below what the database's 64-bit integers hold (a
# 20-digit count once made the status form answer 500).
MAX_HEAD_COUNT = 100_000


class ShelterServiceError(Exception):
    """Base class of shelter operation errors."""


class UnknownShelter(ShelterServiceError, LookupError):
    """No shelter has this source id."""

    def __init__(self, source_id: str):
        super().__init__(f"no shelter with id {source_id!r}")
        self.source_id = source_id


class WithdrawnShelter(UnknownShelter):
    """The shelter was withdrawn (its source no longer lists it): residents cannot see it, so its
    status cannot be changed until a file that lists it again is imported."""

    def __init__(self, source_id: str, name: str, withdrawn_at: float):
        when = wardtime.format_time(withdrawn_at)
        ShelterServiceError.__init__(
            self,
            f"避難所 {source_id}（{name}）は {when} の取り込みで一覧から外れています"
            "（最新の避難所ファイルに載っていません）。住民には表示されないため、状態は変更していません。"
            "再び指定された場合は、その避難所を含むファイルを取り込んでください。",
        )
        self.source_id = source_id


class InvalidStatus(ShelterServiceError, ValueError):
    """A status, head count or operator name that cannot be recorded."""


# --- records -----------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, JST).isoformat(timespec="seconds") if ts else None


def hazards_of(bits: int) -> list[str]:
    return [h for i, h in enumerate(HAZARDS) if bits & (1 << i)]


def _public(row: Shelter) -> dict[str, Any]:
    """A stored shelter as the dict every caller gets (the shape of the public exports)."""
    status_at = row.status_updated_at
    return {
        "id": row.source_id,
        "source_id": row.source_id,
        "name": row.name,
        "kana": row.kana,
        "address": row.address,
        "lat": row.lat,
        "lon": row.lon,
        "hazards": hazards_of(row.hazard_bits),
        "capacity": row.capacity,
        "areas": list(row.areas),
        "is_shelter": row.is_shelter,
        "url": row.url,
        "municipality": row.municipality,
        "status": row.status,
        "head_count": row.head_count,
        "status_by": row.status_by,
        "status_updated_at": _iso(status_at),
        "data_updated_at": _iso(row.data_updated_at),
        "updated_at": _iso(max(row.data_updated_at, status_at or 0)),
        "withdrawn_at": _iso(row.withdrawn_at),  # not published (web.PUBLIC_FIELDS)
    }


def _row_values(rec: ShelterRecord) -> dict[str, Any]:
    return {
        "source_id": rec.source_id,
        "name": rec.name,
        "kana": rec.kana,
        "address": rec.address,
        "lat": rec.lat,
        "lon": rec.lon,
        "hazard_bits": sum(1 << HAZARDS.index(h) for h in rec.hazards),
        "capacity": rec.capacity,
        "areas": "|".join(rec.areas),
        "is_shelter": 1 if rec.is_shelter else 0,
        "url": rec.url,
        "municipality": rec.municipality,
    }


def list_shelters(db: Database) -> list[dict[str, Any]]:
    """Every shelter with its current status, ordered by source id."""
    return [_public(r) for r in shelter_store.all_shelters(db)]


def get_shelter(db: Database, source_id: str) -> dict[str, Any]:
    row = shelter_store.get_shelter(db, source_id)
    if row is None:
        raise UnknownShelter(source_id)
    return _public(row)


def shelters_for_area(db: Database, area_name: str) -> list[dict[str, Any]]:
    """Shelters designated for an area (対象となる町会・自治会), open ones first."""
    rows = [_public(r) for r in shelter_store.shelters_for_area(db, area_name)]
    return sorted(rows, key=lambda s: (SHELTER_STATUS.rank(s["status"]), s["source_id"]))


# --- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    format: str
    total: int
    added: int
    updated: int
    unchanged: int
    withdrawn: int = 0  # in service before, missing from this file: hidden, history kept
    reinstated: int = 0  # withdrawn before, back in this file
    withdrawn_ids: tuple[str, ...] = ()


def import_parsed(
    db: Database,
    parsed: ParsedFile,
    by: str,
    source_name: str,
    source: str = "cli",
    allow_mass_withdrawal: bool = False,
) -> ImportResult:
    """Store a validated file: new shelters added, known ones (same id) updated, status kept;
    shelters of the same source missing from it withdrawn (shelter_store.upsert_shelters).

    Raises shelter_store.MassWithdrawal (nothing changed) when more than half would be withdrawn.
    """
    rows = [_row_values(r) for r in parsed.records]
    with transaction(db):
        counts = shelter_store.upsert_shelters(
            db,
            rows,
            parsed.format,
            source_name,
            allow_mass_withdrawal=allow_mass_withdrawal,
            scope_formats=SAME_SOURCE_FORMATS.get(parsed.format),
        )
        audit.record(
            db, by, "shelter.import", source_name, {"format": parsed.format, "total": len(rows), **counts}, source
        )
    withdrawn_ids = tuple(counts.pop("withdrawn_ids"))
    return ImportResult(parsed.format, len(rows), **counts, withdrawn_ids=withdrawn_ids)


def import_file(
    db: Database, path: Path, by: str, source: str = "cli", allow_mass_withdrawal: bool = False
) -> ImportResult:
    """Read and store a shelter file; ShelterFileInvalid / MassWithdrawal (nothing changed) on error."""
    parsed = read_shelters(path)
    return import_parsed(db, parsed, by, Path(path).name, source, allow_mass_withdrawal)


def ensure_seeded(store: Store, path: Path | str | None) -> int | None:
    """Load `path` (SHELTERS_CSV) when the database has no shelters yet; returns the count loaded."""
    if path is None or shelter_store.has_shelters(store.db):
        return None
    with store.exclusive() as db:
        if shelter_store.has_shelters(db):
            return None
        try:
            result = import_file(db, Path(path), by="system", source="seed")
        except Exception:  # a broken sample must not break resident replies
            log.exception("seeding shelters from %s failed", Path(path).name)
            return None
        log.info("seeded %d shelters from %s", result.total, Path(path).name)
        return result.total


# --- status ------------------------------------------------------------------------------


def normalize_status(status: str) -> str:
    value = (status or "").strip()
    value = STATUS_ALIASES.get(value, value.lower())
    if value not in SHELTER_STATUS:
        raise InvalidStatus(f"status must be one of {', '.join(ShelterStatus)}, got {status!r}")
    return ShelterStatus(value)


def set_status(
    db: Database, source_id: str, status: str, count: int | None = None, by: str = "", source: str = "cli"
) -> dict[str, Any]:
    """Record a status (and head count) with who and when; returns the shelter incl. previous_status.

    Never notifies residents (see `opening_alert_fields` for the opt-in alert).
    """
    value = normalize_status(status)
    if not by or not by.strip():
        raise InvalidStatus("who changes the status must be given (--by)")
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_HEAD_COUNT
    ):
        raise InvalidStatus(f"head count must be a whole number from 0 to {MAX_HEAD_COUNT}, got {count!r}")
    with transaction(db):
        row = shelter_store.get_shelter(db, source_id)
        if row is not None and row.withdrawn_at is not None:
            raise WithdrawnShelter(source_id, row.name, row.withdrawn_at)
        try:
            previous = shelter_store.update_status(db, source_id, value, count, by.strip(), source)
        except LookupError:
            raise UnknownShelter(source_id) from None
        audit.record(
            db,
            by.strip(),
            "shelter.status",
            source_id,
            {"status": value, "previous": previous, "head_count": count},
            source,
        )
    shelter = get_shelter(db, source_id)
    shelter["previous_status"] = previous
    return shelter


def status_history(db: Database, source_id: str) -> list[dict[str, Any]]:
    """Every status change of a shelter, newest first: at, status, previous_status, head_count, by, via."""
    if shelter_store.get_shelter(db, source_id) is None:
        raise UnknownShelter(source_id)
    return [{**asdict(r), "at": _iso(r.at)} for r in shelter_store.status_log(db, source_id)]


# --- nearest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrays:
    version: int
    ids: list[str]
    lat: np.ndarray  # radians
    lon: np.ndarray
    cos_lat: np.ndarray
    bits: np.ndarray
    status: np.ndarray  # index into ShelterStatus


_CACHE: dict[str, _Arrays] = {}
_CACHE_LOCK = threading.Lock()


def _db_key(db: Database) -> str:
    return shelter_store.database_key(db)


def _arrays(db: Database) -> _Arrays:
    """Positions of all shelters as arrays, rebuilt when the data/status version changes."""
    key = _db_key(db)
    version = shelter_store.data_version(db)  # read before the rows: a later change forces a rebuild
    cached = _CACHE.get(key)
    if cached is not None and cached.version == version:
        return cached
    rows = shelter_store.position_rows(db)
    lat = np.radians(np.array([r[1] for r in rows], dtype=np.float64))
    arrays = _Arrays(
        version=version,
        ids=[r[0] for r in rows],
        lat=lat,
        lon=np.radians(np.array([r[2] for r in rows], dtype=np.float64)),
        cos_lat=np.cos(lat),
        bits=np.array([r[3] for r in rows], dtype=np.int64),
        status=np.array([_STATUS_CODE[r[4]] for r in rows], dtype=np.int8),
    )
    with _CACHE_LOCK:
        _CACHE[key] = arrays
    return arrays


def check_hazard(hazard: str | None) -> str | None:
    if hazard is not None and hazard not in HAZARDS:
        raise ValueError(f"hazard must be one of {', '.join(HAZARDS)} or None, got {hazard!r}")
    return hazard


def nearest(
    db: Database,
    lat: float,
    lon: float,
    hazard: str | None = None,
    limit: int = 5,
    only_open: bool = True,
    max_distance_m: float | None = None,
) -> list[dict[str, Any]]:
    """The `limit` nearest shelters (open or crowded ones when `only_open`) suitable for `hazard`.

    Each dict is a shelter record plus `distance_m` (great-circle, metres), nearest first.
    """
    check_hazard(hazard)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or limit <= 0:
        raise ValueError("lat/lon out of range or limit ≤ 0")
    a = _arrays(db)
    if not a.ids:
        return []
    mask = np.ones(len(a.ids), dtype=bool)
    if only_open:
        # Equality tests (4 µs on 10,000 shelters): np.isin took 90 µs, half a query's time.
        mask &= np.logical_or.reduce([a.status == _STATUS_CODE[s] for s in SHELTER_TAKING_IN])
    if hazard is not None:
        mask &= (a.bits & (1 << HAZARDS.index(hazard))) != 0
    candidates = np.flatnonzero(mask)
    if candidates.size == 0:
        return []
    plat, plon = math.radians(lat), math.radians(lon)
    dlat = a.lat[candidates] - plat
    dlon = a.lon[candidates] - plon
    h = np.sin(dlat * 0.5) ** 2 + math.cos(plat) * a.cos_lat[candidates] * np.sin(dlon * 0.5) ** 2
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    k = min(limit, candidates.size)
    top = np.argpartition(dist, k - 1)[:k] if k < candidates.size else np.arange(candidates.size)
    top = top[np.argsort(dist[top], kind="stable")]
    picked = [
        (a.ids[candidates[i]], float(dist[i])) for i in top if max_distance_m is None or dist[i] <= max_distance_m
    ]
    rows = {r.source_id: r for r in shelter_store.shelters_by_ids(db, [p[0] for p in picked])}
    out = []
    for source_id, d in picked:
        row = rows.get(source_id)
        if row is None or (only_open and row.status not in SHELTER_TAKING_IN):
            continue  # changed since the arrays were built: never report a closed shelter as open
        out.append({**_public(row), "distance_m": round(d, 1)})
    return out


# --- alerts hand-off ---------------------------------------------------------------------


def match_area_codes(shelter: dict[str, Any], areas: Areas) -> list[str]:
    """Area codes for a shelter: its 対象となる町会・自治会 names, else the area named in its address."""
    by_name = {normalize(a.name): a.code for a in areas}
    codes = set(areas.by_code)
    out: list[str] = []
    for name in shelter.get("areas") or []:
        code = by_name.get(normalize(name)) or (name if name in codes else None)
        if code and code not in out:
            out.append(code)
    if not out and shelter.get("address"):
        address = normalize(shelter["address"])
        hits = [(len(n), c) for n, c in by_name.items() if n and n in address]
        if hits:
            out.append(max(hits)[1])
    return out


def opening_alert_fields(shelter: dict[str, Any], areas: Areas) -> dict[str, Any]:
    """Pre-filled fields for the alerts feature's `shelter_open` template (nothing is sent here)."""
    codes = match_area_codes(shelter, areas)
    area_names = [areas.name(c) for c in codes]
    return {
        "template": "shelter_open",
        "shelter_id": shelter["source_id"],
        "shelter_name": shelter["name"],
        "address": shelter["address"],
        "areas": codes,
        "area_names": area_names,
        # The template's own fields, as `alert create --field NAME=VALUE` takes them.
        "template_fields": {
            "shelter_name": shelter["name"],
            "address": shelter["address"],
            "areas": "、".join(area_names) if area_names else "周辺地域",
        },
    }


def hazard_label_ja(hazard: str) -> str:
    return HAZARD_COLUMNS[hazard]
