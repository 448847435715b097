"""Collection days from the rules: which categories an area puts out on which date.

Dates are calendar dates of the ward (Asia/Tokyo); callers turn "now" into the ward's
today before asking. A centre's pause removes the collections inside it (skip, not shift:
the 5374 app's SkipSuspend mode — a shifted day would collide with the next regular one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from garbage.model import Area, GarbageSet, Rule


def _month_starts(start: date, end: date) -> Iterator[date]:
    d = start.replace(day=1)
    while d <= end:
        yield d
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def rule_dates(rule: Rule, start: date, end: date) -> set[date]:
    """Every date in [start, end] the rule names (pauses not applied)."""
    out: set[date] = set()
    if end < start:
        return out
    months = rule.months
    for wd in rule.weekly:
        d = start + timedelta(days=(wd - start.weekday()) % 7)
        while d <= end:
            if months is None or d.month in months:
                out.add(d)
            d += timedelta(days=7)
    if rule.nth:
        for first in _month_starts(start, end):
            if months is not None and first.month not in months:
                continue
            for wd, n in rule.nth:
                d = first + timedelta(days=(wd - first.weekday()) % 7 + 7 * (n - 1))
                if d.month == first.month and start <= d <= end:
                    out.add(d)
    out.update(d for d in rule.dates if start <= d <= end)
    for anchor in rule.biweekly:
        first = anchor if anchor >= start else anchor + timedelta(days=-(-(start - anchor).days // 14) * 14)
        d = first
        while d <= end:
            out.add(d)
            d += timedelta(days=14)
    return out


def paused_days(gset: GarbageSet, centre: str, start: date, end: date) -> frozenset[date]:
    """The days in [start, end] a centre does not collect."""
    out: set[date] = set()
    for p in gset.pauses:
        if p.centre == centre and p.start <= end and p.end >= start:
            d = max(p.start, start)
            while d <= min(p.end, end):
                out.add(d)
                d += timedelta(days=1)
    return frozenset(out)


def area_days(
    gset: GarbageSet, area: Area, start: date, end: date, paused: frozenset[date] | None = None
) -> dict[date, list[str]]:
    """{date: [category labels in the set's category order]} for one area."""
    if paused is None:
        paused = paused_days(gset, area.centre, start, end) if area.centre else frozenset()
    order = {c.label: i for i, c in enumerate(gset.categories)}
    days: dict[date, list[str]] = {}
    # Rules in category order, so each day's list comes out ordered without sorting it.
    for label, rule in sorted(area.rules.items(), key=lambda kv: order.get(kv[0], len(order))):
        for d in rule_dates(rule, start, end):
            if d not in paused:
                days.setdefault(d, []).append(label)
    return dict(sorted(days.items()))


def calendar(gset: GarbageSet, areas: Iterable[Area], start: date, end: date) -> list[dict[str, object]]:
    """The contract's rows: one {"area", "date", "categories"} per area and date with a collection."""
    rows: list[dict[str, object]] = []
    pauses: dict[str, frozenset[date]] = {}
    for area in areas:
        if area.centre not in pauses:
            pauses[area.centre] = paused_days(gset, area.centre, start, end) if area.centre else frozenset()
        for d, labels in area_days(gset, area, start, end, pauses[area.centre]).items():
            rows.append({"area": area.name, "date": d.isoformat(), "categories": labels})
    return rows


def next_collection(gset: GarbageSet, area: Area, label: str, today: date, horizon_days: int = 400) -> date | None:
    """The first day from ``today`` (inclusive) ``label`` is collected in ``area``, or None."""
    rule = area.rules.get(label)
    if rule is None or rule.empty:
        return None
    # Look a month ahead first: nearly every rule collects within it.
    for span in (35, horizon_days):
        days = area_days(gset, Area(area.name, area.centre, {}, {label: rule}), today, today + timedelta(days=span))
        if days:
            return next(iter(days))
    return None
