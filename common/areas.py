"""The ward's areas as residents write them, and as residents read them.

``data/areas.csv`` (``AREAS_CSV``) has ``code``, ``name``, ``kana`` and optional
``name_<lang>`` columns (``name_en``, ``name_zh``, ``name_ko``, ``name_vi``, ``name_pt``):
the area's name in that language's script, shown to residents who chose it.

A typed area is found however it is written: 「みどり1丁目です」, 「みどりいっちょうめ」,
「midori 1-chome」 all name みどり一丁目; 「若葉」 without 丁目 names every 若葉 area.

The app reads the file once, at start (`Areas.load` in the app factory), and fails to start on a
file it cannot use; staff restart the app after editing it, as with the other setting files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from excelcsv import CsvInvalid, Sheet
from nlp.normalize import normalize

NAME_LANGS = ("en", "zh", "ko", "vi", "pt")
# Catalog languages read from another language's column.
_COLUMN_OF = {"zh-Hant": "zh"}
_KANJI_DIGIT = str.maketrans("一二三四五六七八九", "123456789")
_KANA_DIGIT = {
    "いっ": "1",
    "いち": "1",
    "に": "2",
    "さん": "3",
    "よん": "4",
    "ご": "5",
    "ろく": "6",
    "なな": "7",
    "はっ": "8",
    "きゅう": "9",
}
_KANJI_CHOME = re.compile("([一二三四五六七八九])丁目")
_KANA_CHOME = re.compile("(" + "|".join(sorted(_KANA_DIGIT, key=len, reverse=True)) + ")ちょうめ")
_CHOME = re.compile(r"丁目|ちょうめ|chome|chōme|-chō|番地")
_GAPS = re.compile(r"[\s\-‐・,.、。!！?？「」『』()（）]")
# A town name followed by this is the ward itself (みどり区), not the みどり areas.
_NOT_AREA_AFTER = ("区", "く役所")


def area_key(text: str) -> str:
    """A spelling-free key: みどり一丁目, みどり1丁目, みどりいっちょうめ → みどり1 (kana stays kana)."""
    s = normalize(text)
    # "/" ends a 丁目 number so that an address's next number does not join it (一丁目3-1).
    s = _KANJI_CHOME.sub(lambda m: m.group(1).translate(_KANJI_DIGIT) + "/", s)
    s = _KANA_CHOME.sub(lambda m: _KANA_DIGIT[m.group(1)] + "/", s)
    s = _CHOME.sub("/", s)
    s = re.sub(r"(?<=\d)[-‐−](?=\d)", "/", s)
    return _GAPS.sub("", s).strip("/")


def _base(key: str) -> str:
    """The town without its 丁目 number or 町: みどり1 → みどり, 柏木町 → 柏木."""
    base = re.sub(r"\d+/?$", "", key)
    return re.sub("(町|ちょう|machi|cho)$", "", base) if base == key else base


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    kana: str = ""
    names: dict[str, str] = field(default_factory=dict)

    def display(self, lang: str) -> str:
        """The name in ``lang``'s script when the areas file gives one, else the Japanese name."""
        return self.names.get(_COLUMN_OF.get(lang, lang)) or self.name

    @cached_property
    def keys(self) -> frozenset[str]:
        """The spelling-free keys residents' text is matched against (computed once per area:
        the areas are read once and searched on every message that may name one)."""
        return frozenset(
            k for k in (area_key(self.name), area_key(self.kana), *map(area_key, self.names.values())) if k
        )


class AreasFileError(ValueError):
    """The areas file cannot be used: names the file and, for a bad row, ``line N, column C``."""


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(Excel line, {column: stripped cell}) of each non-blank row under the header, read as every
    staff-edited CSV is (UTF-8 with or without BOM, or CP932 from Excel)."""
    try:
        sheet = Sheet(path.read_bytes())
    except OSError as exc:
        raise AreasFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except CsvInvalid as exc:
        raise AreasFileError(f"{path}: {exc.errors[0]}") from None
    problems = sheet.missing(("code", "name"))
    rows = [(row.line, sheet.as_dict(row)) for row in sheet.rows()] if not problems else []
    problems += sheet.errors
    if problems:
        raise AreasFileError(f"{path}: {problems[0]}")
    return rows


class Areas:
    """The ward's areas, read once when the app starts (staff restart the app after editing the file)."""

    def __init__(self, areas: Iterable[Area] = (), source: str = "") -> None:
        self.all: tuple[Area, ...] = tuple(areas)
        self.source = source
        self.by_code: dict[str, Area] = {a.code: a for a in self.all}
        # What staff may type for an area in a console form or a command: its code, name or kana.
        self._lookup: dict[str, str] = {}
        for a in self.all:
            for key in (a.code, a.name, a.kana):
                if key:
                    self._lookup.setdefault(key, a.code)

    @classmethod
    def load(cls, path: str | Path) -> Areas:
        """The areas of ``path``; AreasFileError (file, line, column, why) when it is not usable."""
        p = Path(path)
        out: list[Area] = []
        seen: dict[str, int] = {}
        for line, row in _read_rows(p):
            code, name = row.get("code", ""), row.get("name", "")
            if not code:
                raise AreasFileError(f"{p}: line {line}, column code: the area has no code")
            if code in seen:
                raise AreasFileError(f"{p}: line {line}, column code: {code!r} is already on line {seen[code]}")
            if not name:
                raise AreasFileError(f"{p}: line {line}, column name: area {code!r} has no name")
            seen[code] = line
            names = {lang: row.get(f"name_{lang}", "") for lang in NAME_LANGS}
            out.append(Area(code, name, row.get("kana", ""), {k: v for k, v in names.items() if v}))
        if not out:
            raise AreasFileError(f"{p}: line 2, column code: the file lists no area")
        return cls(out, str(p))

    def __iter__(self) -> Iterator[Area]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def name(self, code: str) -> str:
        """The area's Japanese name; the code itself for an area no longer in the file."""
        area = self.by_code.get(code)
        return area.name if area else code

    def names(self) -> dict[str, str]:
        """{code: Japanese name}, in the file's order."""
        return {a.code: a.name for a in self.all}

    def find(self, text: str) -> list[Area]:
        """The areas a resident's ``text`` names (see `find_areas`)."""
        return find_areas(self.all, text)

    def resolve(self, values: Iterable[str]) -> tuple[list[str], list[str]]:
        """(codes, values that name no area) for codes, names or kana as staff type them."""
        codes: list[str] = []
        unknown: list[str] = []
        for value in values:
            code = self._lookup.get(value.strip())
            if code is None:
                unknown.append(value)
            elif code not in codes:
                codes.append(code)
        return codes, unknown


def find_areas(areas: Sequence[Area], text: str) -> list[Area]:
    """The areas ``text`` names: one exact area (みどり1丁目), or every area of a town named
    without its number (若葉 → 若葉一〜三丁目); [] when none."""
    key = area_key(text)
    if not key:
        return []
    best: list[Area] = []
    best_len = 0
    for area in areas:
        for k in area.keys:
            if k in key and not _followed_by_number(key, k):
                if len(k) > best_len:
                    best, best_len = [area], len(k)
                elif len(k) == best_len and area not in best:
                    best.append(area)
    if best:
        return best
    towns: list[Area] = []
    for area in areas:
        for k in area.keys:
            base = _base(k)
            if len(base) >= 2 and base in key and not _town_is_the_ward(key, base):
                towns.append(area)
                break
    return towns


def _followed_by_number(key: str, k: str) -> bool:
    # みどり1 inside みどり12 is another area (and inside 「みどり1-5-3」 an address, still みどり1).
    i = key.find(k) + len(k)
    return k[-1:].isdigit() and i < len(key) and key[i].isdigit()


def _town_is_the_ward(key: str, base: str) -> bool:
    i = key.find(base) + len(base)
    return any(key.startswith(suffix, i) for suffix in _NOT_AREA_AFTER)
