"""Read a 5374-format directory (Code for Kanazawa's 5374.jp and its city forks).

Files: ``area_days.csv`` (地名, センター, one column per category), ``target.csv`` (label or
type, name, notice, furigana), ``description.csv`` (label, sublabel, description, styles,
bgcolor), ``center.csv`` (名称, 休止開始日, 休止終了日) and ``remarks.csv`` (ID, 注意事項); UTF-8
with or without BOM, or CP932. The cell rules are documented in README ("ごみ").

Every problem is reported with its file, line and column; nothing is half-imported.
Two things real forks publish are accepted with a warning instead of an error, because
the 5374 app itself accepts them: an item whose category has no column (八王子's
「粗大ごみ(不燃) 直接持込み又は収集依頼」), and a 隔 cell whose weekday letter disagrees with
its start date (the app counts 14-day steps from the date and ignores the letter; so do we).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

from excelcsv import CsvError, CsvInvalid, Sheet, find_column
from garbage.model import WEEKDAYS, Area, Category, GarbageSet, Item, Pause, Rule

FILES = ("area_days.csv", "target.csv", "description.csv", "center.csv", "remarks.csv")
REQUIRED_FILES = ("area_days.csv", "target.csv")

_WEEKLY = re.compile(f"^([{WEEKDAYS}])$")
_NTH = re.compile(f"^([{WEEKDAYS}])([1-5])$")
_REMARK = re.compile(r"^\*(\d+)$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_BIWEEKLY = re.compile(f"^隔([{WEEKDAYS}])(\\d{{4}})(\\d{{2}})(\\d{{2}})$")
_SLASH_DATE = re.compile(r"^(\d{4})[/\-](\d{1,2})[/\-](\d{1,2})$")
_MONTH = re.compile(r"^(\d{1,2})$")


class GarbageDataError(CsvError):
    """One problem in one file of a 5374 directory."""

    def __init__(self, file: str, line: int, column: str, reason: str) -> None:
        super().__init__(line, column, reason)
        self.file = file

    def __str__(self) -> str:
        return f"{self.file}: line {self.line}, column {self.column}: {self.reason}"


class GarbageDataInvalid(CsvInvalid):
    """The directory was rejected; ``errors`` lists every problem found."""


class CellError(ValueError):
    """A cell that does not follow the rules (the reason, without location)."""


def _nfkc(text: str) -> str:
    # Excel users type full-width digits, colons and spaces; the rules mean the same.
    return unicodedata.normalize("NFKC", text).strip()


def _valid_date(y: str, m: str, d: str, token: str) -> date:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise CellError(f"{token!r} is not a real date") from None


def parse_cell(cell: str, remark_ids: set[int] | None = None) -> Rule:
    """One area_days.csv cell → a Rule; raise CellError on anything not in the format.

    ``remark_ids``: the ids remarks.csv defines (None: not checked, for stored sets).
    """
    text = _nfkc(cell)
    if not text:
        return Rule()
    months: frozenset[int] | None = None
    if ":" in text:
        days_part, _, months_part = text.partition(":")
        if ":" in months_part:
            raise CellError("more than one ':' (write the months once, after the days)")
        month_tokens = months_part.split()
        if not month_tokens:
            raise CellError("':' without months after it (e.g. '火2:4 6 8')")
        found: set[int] = set()
        for tok in month_tokens:
            if not _MONTH.match(tok) or not 1 <= int(tok) <= 12:
                raise CellError(f"month {tok!r} after ':' is not 1-12")
            found.add(int(tok))
        months = frozenset(found)
    else:
        days_part = text
    weekly: set[int] = set()
    nth: set[tuple[int, int]] = set()
    dates: set[date] = set()
    biweekly: list[date] = []
    remarks: list[int] = []
    for tok in days_part.split():
        if m := _WEEKLY.match(tok):
            weekly.add(WEEKDAYS.index(m.group(1)))
        elif m := _NTH.match(tok):
            nth.add((WEEKDAYS.index(m.group(1)), int(m.group(2))))
        elif m := _REMARK.match(tok):
            rid = int(m.group(1))
            if remark_ids is not None and rid not in remark_ids:
                raise CellError(f"{tok!r} points to remark {rid}, which remarks.csv does not have")
            remarks.append(rid)
        elif m := _DATE.match(tok):
            dates.add(_valid_date(*m.groups(), tok))
        elif m := _BIWEEKLY.match(tok):
            biweekly.append(_valid_date(*m.groups()[1:], tok))
        else:
            raise CellError(
                f"unknown token {tok!r} (expected a weekday 月, an n-th weekday 水2, *N, YYYYMMDD or 隔水YYYYMMDD)"
            )
    if months is not None and not (weekly or nth):
        raise CellError("months after ':' apply to weekdays (月) or n-th weekdays (水2), and the cell has none")
    return Rule(
        weekly=frozenset(weekly),
        nth=frozenset(nth),
        months=months,
        dates=frozenset(dates),
        biweekly=tuple(sorted(biweekly)),
        remarks=tuple(remarks),
    )


def biweekly_mismatches(cell: str) -> list[str]:
    """隔 tokens whose weekday letter is not the weekday of their date."""
    out = []
    for tok in _nfkc(cell).partition(":")[0].split():
        m = _BIWEEKLY.match(tok)
        if m:
            d = _valid_date(*m.groups()[1:], tok)
            if WEEKDAYS[d.weekday()] != m.group(1):
                out.append(f"{tok}: {d.isoformat()} is a {WEEKDAYS[d.weekday()]}曜日, not {m.group(1)}曜日")
    return out


def parse_pause_date(value: str) -> date:
    """A centre's pause date: ``2015/12/29`` (also 2015/1/2, 2015-12-29) or ``20151229``."""
    text = _nfkc(value)
    m = _DATE.match(text) or _SLASH_DATE.match(text)
    if not m:
        raise CellError(f"{value!r} is not a date (write 2015/12/29 or 20151229)")
    return _valid_date(*m.groups(), value)


# --- files -----------------------------------------------------------------------------------


class _Table:
    """A CSV file's header and rows (cells stripped), with the Excel row of each row."""

    def __init__(self, file: str, data: bytes, errors: list[GarbageDataError]) -> None:
        self.file = file
        self.header: list[str] = []
        self.rows: list[tuple[int, list[str]]] = []
        try:
            sheet = Sheet(data)
        except CsvInvalid as exc:
            errors.extend(GarbageDataError(file, e.line, e.column, e.reason) for e in exc.errors)
            return
        self.header_line, self.header = sheet.header_line, sheet.header
        self.rows = [(line, [c.strip() for c in cells]) for line, cells, _ in sheet.rows()]
        errors.extend(GarbageDataError(file, e.line, e.column, e.reason) for e in sheet.errors)

    def column(self, *names: str) -> int | None:
        return find_column(self.header, *names)


def _read(directory: Path, name: str, errors: list[GarbageDataError]) -> _Table | None:
    path = directory / name
    if not path.is_file():
        if name in REQUIRED_FILES:
            errors.append(GarbageDataError(name, 0, "-", f"file missing in {directory}"))
        return None
    return _Table(name, path.read_bytes(), errors)


def _need(table: _Table, errors: list[GarbageDataError], *alternatives: str) -> int | None:
    i = table.column(*alternatives)
    if i is None:
        errors.append(
            GarbageDataError(table.file, table.header_line, alternatives[0], "missing required column")
            if table.header
            else GarbageDataError(table.file, 1, alternatives[0], "missing required column")
        )
    return i


def parse_directory(directory: str | Path) -> GarbageSet:
    """Read and validate a 5374 directory; raise GarbageDataInvalid listing every error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GarbageDataInvalid([GarbageDataError(str(directory), 0, "-", "not a directory")])
    errors: list[GarbageDataError] = []
    warnings: list[str] = []
    tables = {name: _read(directory, name, errors) for name in FILES}
    if errors:
        raise GarbageDataInvalid(errors)

    remarks: dict[int, str] = {}
    if (t := tables["remarks.csv"]) is not None and t.header:
        id_col, text_col = _need(t, errors, "ID"), _need(t, errors, "注意事項", "remark", "text")
        if id_col is not None and text_col is not None:
            for line, row in t.rows:
                if not row[id_col].isdigit():
                    errors.append(GarbageDataError(t.file, line, t.header[id_col], f"{row[id_col]!r} is not a number"))
                elif int(row[id_col]) in remarks:
                    errors.append(GarbageDataError(t.file, line, t.header[id_col], f"duplicate ID {row[id_col]}"))
                else:
                    remarks[int(row[id_col])] = row[text_col]

    categories: list[Category] = []
    if (t := tables["description.csv"]) is not None and t.header:
        label_col = _need(t, errors, "label")
        sub, desc, color = t.column("sublabel"), t.column("description"), t.column("bgcolor")
        if label_col is not None:
            for line, row in t.rows:
                label = row[label_col]
                if not label:
                    errors.append(GarbageDataError(t.file, line, "label", "empty label"))
                elif any(c.label == label for c in categories):
                    errors.append(GarbageDataError(t.file, line, "label", f"duplicate label {label!r}"))
                else:
                    categories.append(
                        Category(
                            label,
                            row[sub] if sub is not None else "",
                            row[desc] if desc is not None else "",
                            row[color] if color is not None else "",
                        )
                    )

    pauses: list[Pause] = []
    centres: set[str] = set()
    if (t := tables["center.csv"]) is not None and t.header:
        cols = (_need(t, errors, "名称"), _need(t, errors, "休止開始日"), _need(t, errors, "休止終了日"))
        if None not in cols:
            name_col, start_col, end_col = cols
            for line, row in t.rows:
                name = row[name_col]
                if not name:
                    errors.append(GarbageDataError(t.file, line, t.header[name_col], "empty centre name"))
                    continue
                centres.add(name)
                got: list[date] = []
                for col in (start_col, end_col):
                    try:
                        got.append(parse_pause_date(row[col]))
                    except CellError as exc:
                        errors.append(GarbageDataError(t.file, line, t.header[col], str(exc)))
                if len(got) == 2:
                    if got[1] < got[0]:
                        errors.append(
                            GarbageDataError(t.file, line, t.header[end_col], "the pause ends before it starts")
                        )
                    else:
                        pauses.append(Pause(name, got[0], got[1]))

    areas: list[Area] = []
    t = tables["area_days.csv"]
    assert t is not None  # required: a missing file was reported above
    name_col, centre_col = _need(t, errors, "地名"), _need(t, errors, "センター")
    if name_col is not None and centre_col is not None:
        known = {c.label for c in categories}
        category_cols = [(i, h) for i, h in enumerate(t.header) if i not in (name_col, centre_col)]
        for i, h in category_cols:
            if not h:
                errors.append(GarbageDataError(t.file, t.header_line, f"#{i + 1}", "empty category name in the header"))
            elif categories and h not in known:
                errors.append(
                    GarbageDataError(t.file, t.header_line, h, "category not in description.csv (add a row there)")
                )
        if not categories:
            categories = [Category(h) for _, h in category_cols if h]
        seen: dict[str, int] = {}
        for line, row in t.rows:
            name, centre = row[name_col], row[centre_col]
            if not name:
                errors.append(GarbageDataError(t.file, line, "地名", "empty area name"))
                continue
            if name in seen:
                errors.append(
                    GarbageDataError(t.file, line, "地名", f"duplicate area {name!r} (first on line {seen[name]})")
                )
                continue
            seen[name] = line
            if centre and centre not in centres:
                errors.append(GarbageDataError(t.file, line, "センター", f"centre {centre!r} is not in center.csv"))
            cells: dict[str, str] = {}
            rules: dict[str, Rule] = {}
            for i, h in category_cols:
                if not h:
                    continue
                try:
                    rules[h] = parse_cell(row[i], set(remarks))
                except CellError as exc:
                    errors.append(GarbageDataError(t.file, line, h, str(exc)))
                    continue
                cells[h] = row[i]
                for w in biweekly_mismatches(row[i]):
                    warnings.append(f"{t.file}: line {line}, column {h}: {w} (collected every 14 days from the date)")
            areas.append(Area(name, centre, cells, rules))
        if not areas and not any(e.file == t.file for e in errors):
            errors.append(GarbageDataError(t.file, t.header_line, "-", "no areas"))

    items: list[Item] = []
    t = tables["target.csv"]
    assert t is not None
    label_col, item_col = _need(t, errors, "label", "type"), _need(t, errors, "name")
    notice_col, kana_col = t.column("notice"), t.column("furigana")
    if label_col is not None and item_col is not None:
        known = {c.label for c in categories}
        for line, row in t.rows:
            label, name = row[label_col], row[item_col]
            if not name:
                errors.append(GarbageDataError(t.file, line, t.header[item_col], "empty item name"))
                continue
            if not label:
                errors.append(GarbageDataError(t.file, line, t.header[label_col], "empty category"))
                continue
            if label not in known:
                warnings.append(
                    f"{t.file}: line {line}, column {t.header[label_col]}: category {label!r} has no collection days"
                )
            items.append(
                Item(
                    label=label,
                    name=name,
                    notice=row[notice_col] if notice_col is not None else "",
                    furigana=row[kana_col] if kana_col is not None else "",
                )
            )
    if errors:
        raise GarbageDataInvalid(errors)
    return GarbageSet(
        categories=categories, areas=areas, items=items, pauses=pauses, remarks=remarks, warnings=warnings
    )


def set_from_dict(data: dict[str, Any]) -> GarbageSet:
    """A stored set (``GarbageSet.to_dict``) back as objects; its cells were validated on import."""
    areas = []
    for a in data["areas"]:
        rules = {label: parse_cell(cell) for label, cell in a["cells"].items()}
        areas.append(Area(a["name"], a["centre"], dict(a["cells"]), rules))
    return GarbageSet(
        categories=[Category(**c) for c in data["categories"]],
        areas=areas,
        items=[Item(**i) for i in data["items"]],
        pauses=[
            Pause(p["centre"], date.fromisoformat(p["start"]), date.fromisoformat(p["end"])) for p in data["pauses"]
        ],
        remarks={int(k): v for k, v in data.get("remarks", {}).items()},
        warnings=list(data.get("warnings", [])),
    )
