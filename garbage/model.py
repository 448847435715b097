"""The garbage data of a ward: categories, areas with their collection rules, items, pauses.

A `GarbageSet` is what one import of a 5374 directory produces. It is stored as JSON (the
cells as written, so a stored set is re-read with the same parser that validated it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

WEEKDAYS = "月火水木金土日"  # index = date.weekday()


@dataclass(frozen=True)
class Rule:
    """When one category is collected in one area (one area_days.csv cell)."""

    weekly: frozenset[int] = frozenset()  # weekday numbers, every week
    nth: frozenset[tuple[int, int]] = frozenset()  # (weekday, n): the n-th such weekday of the month
    months: frozenset[int] | None = None  # weekly/nth apply only in these months (None: every month)
    dates: frozenset[date] = frozenset()  # single collection days
    biweekly: tuple[date, ...] = ()  # every 14 days from each anchor date (inclusive)
    remarks: tuple[int, ...] = ()  # remarks.csv ids the cell points to

    @property
    def empty(self) -> bool:
        return not (self.weekly or self.nth or self.dates or self.biweekly)


@dataclass(frozen=True)
class Category:
    label: str
    sublabel: str = ""
    description: str = ""
    color: str = ""


@dataclass(frozen=True)
class Area:
    name: str
    centre: str
    cells: dict[str, str]  # category label -> the cell as written
    rules: dict[str, Rule] = field(compare=False, repr=False, default_factory=dict)


@dataclass(frozen=True)
class Item:
    label: str  # the category
    name: str
    notice: str = ""
    furigana: str = ""


@dataclass(frozen=True)
class Pause:
    """A centre's pause (年末年始 etc.): no collection on these days, inclusive."""

    centre: str
    start: date
    end: date


@dataclass
class GarbageSet:
    categories: list[Category]
    areas: list[Area]
    items: list[Item]
    pauses: list[Pause]
    remarks: dict[int, str]
    warnings: list[str] = field(default_factory=list)

    def area(self, name: str) -> Area | None:
        for a in self.areas:
            if a.name == name:
                return a
        return None

    def category(self, label: str) -> Category | None:
        for c in self.categories:
            if c.label == label:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": [vars(c) for c in self.categories],
            "areas": [{"name": a.name, "centre": a.centre, "cells": a.cells} for a in self.areas],
            "items": [vars(i) for i in self.items],
            "pauses": [
                {"centre": p.centre, "start": p.start.isoformat(), "end": p.end.isoformat()} for p in self.pauses
            ],
            "remarks": {str(k): v for k, v in self.remarks.items()},
            "warnings": list(self.warnings),
        }
