"""Garbage services over the store: import a set, the current set (cached), areas, today."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

import wardtime
from garbage import bulky
from garbage.bulky import Fee, FeeIndex, parse_fee_list
from garbage.calendar import paused_days
from garbage.format5374 import parse_directory, set_from_dict
from garbage.items import ItemIndex
from garbage.model import Area, GarbageSet, Item
from store import garbage as garbage_store

RECEIPT_PREFIX = "S"  # 受付番号 S000123 (粗大 = sodai)


def ward_today(now: datetime | None = None) -> date:
    """Today's date in the ward (WARD_TIMEZONE): at 00:30 JST a resident's "tomorrow" is Japan's."""
    tz = wardtime.ward_zone()
    return (now.astimezone(tz) if now is not None else datetime.now(tz)).date()


def import_directory(db: Database, directory: str | Path, by: str) -> tuple[int, GarbageSet]:
    """Parse and store a 5374 directory as the current set; GarbageDataInvalid leaves the old one."""
    gset = parse_directory(directory)
    set_id = garbage_store.save_set(db, gset.to_dict(), by=by, source=Path(directory).name)
    _cache.clear()
    return set_id, gset


@dataclass
class Loaded:
    """A set ready to answer: ``entries`` = its items, then its categories as searchable entries
    (「雑誌の出し方」 names a category, not an item); ``items`` indexes ``entries``."""

    set_id: int
    gset: GarbageSet
    entries: list[Item]
    items: ItemIndex

    def is_category(self, index: int) -> bool:
        return index >= len(self.gset.items)


def searchable_entries(gset: GarbageSet) -> list[Item]:
    names = {i.name for i in gset.items}
    return list(gset.items) + [Item(c.label, c.label, c.description) for c in gset.categories if c.label not in names]


class _Cache:
    """The current set per process, rebuilt when another process imported a newer one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, Loaded] = {}

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()

    def get(self, db: Database, key: str) -> Loaded | None:
        set_id = garbage_store.current_set_id(db)
        if set_id is None:
            return None
        loaded = self._loaded.get(key)
        if loaded is not None and loaded.set_id == set_id:
            return loaded
        data = garbage_store.load_set(db, set_id)
        if data is None:
            return None
        gset = set_from_dict(data)
        entries = searchable_entries(gset)
        loaded = Loaded(set_id, gset, entries, ItemIndex([i.name for i in entries], [i.furigana for i in entries]))
        with self._lock:
            self._loaded[key] = loaded
        return loaded


_cache = _Cache()


def current(db: Database, key: str = "") -> Loaded | None:
    """The current set with its item index, or None before the first import.

    ``key`` separates databases in one process (tests run several apps).
    """
    return _cache.get(db, key)


def resolve_area(gset: GarbageSet, value: str | None, area_names: dict[str, str] | None = None) -> Area | None:
    """The set's area for a resident's area code (via areas.csv names) or a 地名 as written."""
    if not value:
        return None
    area = gset.area(value)
    if area is None and area_names and value in area_names:
        area = gset.area(area_names[value])
    return area


# --- 粗大ごみ ---------------------------------------------------------------------------------------


class _FeeCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[int, FeeIndex]] = {}

    def get(self, db: Database, key: str) -> FeeIndex:
        current = garbage_store.current_fee_list(db)
        if current is None:
            # No list imported yet: the shipped sample serves (like FAQ_CSV for the FAQ).
            entries = [vars(f) for f in parse_fee_list(bulky.SAMPLE_FEES.read_bytes())]
            garbage_store.save_fee_list(db, entries, by="sample", source=bulky.SAMPLE_FEES.name)
            current = garbage_store.current_fee_list(db)
        assert current is not None
        list_id, entries = current
        cached = self._loaded.get(key)
        if cached is not None and cached[0] == list_id:
            return cached[1]
        index = FeeIndex([Fee(**e) for e in entries])
        with self._lock:
            self._loaded[key] = (list_id, index)
        return index


_fees = _FeeCache()


def fee_index(db: Database, key: str = "") -> FeeIndex:
    """The current 粗大ごみ fee list, searchable (the sample until staff import one)."""
    return _fees.get(db, key)


def import_fee_list(db: Database, path: str | Path, by: str) -> list[Fee]:
    """Parse and store a fee list; FeeListInvalid leaves the current one."""
    fees = parse_fee_list(Path(path).read_bytes())
    garbage_store.save_fee_list(db, [vars(f) for f in fees], by=by, source=Path(path).name)
    return fees


def bulky_days(
    db: Database, area_code: str, today: date, gset: GarbageSet | None, area_name: str | None, limit: int
) -> list[date]:
    """The next collection days of an area with capacity left (pauses of its centre skipped)."""
    area = resolve_area(gset, area_code, {area_code: area_name} if area_name else None) if gset else None
    first = today + timedelta(days=bulky.LEAD_DAYS)
    last = first + timedelta(days=bulky.SEARCH_DAYS)
    paused = paused_days(gset, area.centre, first, last) if gset and area and area.centre else frozenset()
    candidates = bulky.candidate_days(today, paused)
    default, per_day = garbage_store.capacities_between(db, area_code, first.isoformat(), last.isoformat())
    fallback = bulky.DEFAULT_CAPACITY if default is None else default
    capacity = {d: per_day.get(d.isoformat(), fallback) for d in candidates}
    booked = {
        date.fromisoformat(k): v
        for k, v in garbage_store.booked_counts(db, area_code, first.isoformat(), last.isoformat()).items()
    }
    return bulky.free_days(candidates, capacity, booked, limit)


def book_bulky(
    db: Database,
    *,
    user_id: str | None,
    area_code: str,
    address: str,
    day: date,
    items: list[dict[str, object]],
    lang: str | None,
) -> dict[str, object]:
    """Book one request; raises store.garbage.DayFull when the day has no place left."""
    default, per_day = garbage_store.capacities_between(db, area_code, day.isoformat(), day.isoformat())
    capacity = per_day.get(day.isoformat(), bulky.DEFAULT_CAPACITY if default is None else default)
    total = sum(int(i["fee"]) for i in items)  # type: ignore[call-overload]
    return garbage_store.book_request(
        db,
        user_id=user_id,
        area=area_code,
        address=address,
        day=day.isoformat(),
        items=items,
        total_fee=total,
        lang=lang,
        capacity=capacity,
        receipt_prefix=RECEIPT_PREFIX,
    )
