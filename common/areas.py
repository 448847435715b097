"""The ward's areas as residents write them, and as residents read them.

``data/areas.csv`` (``AREAS_CSV``) has ``code``, ``name``, ``kana`` and optional
``name_<lang>`` columns (``name_en``, ``name_zh``, ``name_ko``, ``name_vi``, ``name_pt``):
the area's name in that language's script, shown to residents who chose it.

A typed area is found however it is written: 「みどり1丁目です」, 「みどりいっちょうめ」,
「midori 1-chome」 all name みどり一丁目; 「若葉」 without 丁目 names every 若葉 area.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nlp.normalize import normalize

log = logging.getLogger(__name__)

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

    def keys(self) -> set[str]:
        return {k for k in (area_key(self.name), area_key(self.kana), *map(area_key, self.names.values())) if k}


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> tuple[Area, ...]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        out = []
        for row in csv.DictReader(fh):
            code = (row.get("code") or "").strip()
            if not code:
                continue
            names = {lang: (row.get(f"name_{lang}") or "").strip() for lang in NAME_LANGS}
            out.append(
                Area(
                    code,
                    (row.get("name") or "").strip(),
                    (row.get("kana") or "").strip(),
                    {k: v for k, v in names.items() if v},
                )
            )
        return tuple(out)


def load_areas(path: str | Path) -> tuple[Area, ...]:
    """The areas of ``path``, re-read when staff save the file; () when it cannot be read."""
    p = Path(path)
    try:
        return _load_cached(str(p), p.stat().st_mtime)
    except (OSError, csv.Error, UnicodeDecodeError):
        log.warning("areas file %s cannot be read", p.name)
        return ()


def find_areas(areas: Sequence[Area], text: str) -> list[Area]:
    """The areas ``text`` names: one exact area (みどり1丁目), or every area of a town named
    without its number (若葉 → 若葉一〜三丁目); [] when none."""
    key = area_key(text)
    if not key:
        return []
    best: list[Area] = []
    best_len = 0
    for area in areas:
        for k in area.keys():
            if k in key and not _followed_by_number(key, k):
                if len(k) > best_len:
                    best, best_len = [area], len(k)
                elif len(k) == best_len and area not in best:
                    best.append(area)
    if best:
        return best
    towns: list[Area] = []
    for area in areas:
        for k in area.keys():
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
