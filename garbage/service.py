"""Garbage services over the store: import a set, the current set (cached), areas, today."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlite_utils import Database

import wardtime
from garbage.format5374 import parse_directory, set_from_dict
from garbage.items import ItemIndex
from garbage.model import Area, GarbageSet, Item
from store import garbage as garbage_store


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
