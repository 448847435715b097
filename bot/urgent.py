"""Urgent health questions answered before FAQ retrieval (#8000, #7119, 119).

A parent typing 「夜間に子どもが熱を出した」 must get the night-time numbers, not the
weekday office's, and not a もしかして list. Staff keep the topics in a CSV
(``URGENT_CSV``, default ``data/urgent.csv``; columns in the README):

- ``id``: a short name (logged instead of the message).
- ``triggers``: phrases separated by ``|``; a phrase made of parts joined by ``+`` matches
  when every part occurs in the message (``子ども+熱``). Matched on normalized text
  (full/half width, case), so write them as residents type.
- ``requires``: empty (always), ``7119`` (only where #7119 exists: ``URGENT_HAS_7119`` on)
  or ``no7119`` (only where it does not).
- ``answer_<lang>`` for ja, easy, en, zh, ko, vi, pt: the reply; a missing language falls
  back to easy, then ja. ``{contact}`` is replaced by the ward's contact line.

The first row (in file order) that matches and whose requirement holds answers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from excelcsv import CsvError, CsvInvalid, Sheet
from nlp.normalize import normalize

log = logging.getLogger(__name__)

ANSWER_LANGS = ("ja", "easy", "en", "zh", "ko", "vi", "pt")
REQUIRES = ("", "7119", "no7119")
# Catalog languages answered from another language's column.
_COLUMN_OF = {"zh-Hant": "zh"}


class UrgentCsvError(CsvError):
    """The urgent-topics file is not usable: ``line N, column C: reason`` (the first problem; ``line``
    is the line of the file, as the file's first users read it in a text editor)."""


@dataclass(frozen=True)
class UrgentTopic:
    id: str
    triggers: tuple[tuple[str, ...], ...]
    requires: str
    answers: Mapping[str, str]

    def matches(self, normalized: str) -> bool:
        return any(all(part in normalized for part in phrase) for phrase in self.triggers)

    def answer(self, lang: str, contact: str = "") -> str:
        for candidate in (_COLUMN_OF.get(lang, lang), "easy", "ja"):
            text = self.answers.get(candidate)
            if text:
                return text.replace("{contact}", contact)
        return ""


def parse_urgent_csv(data: bytes) -> tuple[UrgentTopic, ...]:
    """Parse the urgent-topics CSV; any error raises UrgentCsvError naming line and column."""
    try:
        sheet = Sheet(data)
    except CsvInvalid as exc:
        e = exc.errors[0]
        raise UrgentCsvError(e.line, e.column, e.reason, e.ja) from None
    for column in ("id", "triggers", "answer_ja"):
        if column not in sheet.header:
            raise UrgentCsvError(sheet.header_file_line, column, "required column missing")
    topics: list[UrgentTopic] = []
    seen: set[str] = set()
    for record in sheet.rows():
        line, row = record.file_line, sheet.as_dict(record)
        tid = row.get("id", "")
        if not tid:
            raise UrgentCsvError(line, "id", "empty")
        if tid in seen:
            raise UrgentCsvError(line, "id", f"duplicate id {tid!r}")
        seen.add(tid)
        phrases = []
        for phrase in row["triggers"].split("|"):
            parts = tuple(p for p in (normalize(x) for x in phrase.split("+")) if p)
            if parts:
                phrases.append(parts)
        if not phrases:
            raise UrgentCsvError(line, "triggers", "no trigger phrase")
        requires = row.get("requires", "").lower()
        if requires not in REQUIRES:
            raise UrgentCsvError(line, "requires", "must be empty, 7119 or no7119")
        answers = {lang: row.get(f"answer_{lang}", "") for lang in ANSWER_LANGS}
        if not answers["ja"]:
            raise UrgentCsvError(line, "answer_ja", "empty")
        topics.append(UrgentTopic(tid, tuple(phrases), requires, {k: v for k, v in answers.items() if v}))
    if sheet.errors:
        e = sheet.errors[0]
        raise UrgentCsvError(e.line, e.column, e.reason, e.ja)
    return tuple(topics)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> tuple[UrgentTopic, ...]:
    return parse_urgent_csv(Path(path).read_bytes())


def load_urgent(path: str | Path | None) -> tuple[UrgentTopic, ...]:
    """The topics of ``path``, re-read when staff save the file; () when it is missing or broken
    (the bot then answers from the FAQ, and the reason is logged)."""
    if not path:
        return ()
    p = Path(path)
    try:
        return _load_cached(str(p), p.stat().st_mtime)
    except OSError:
        log.warning("urgent topics file %s cannot be read", p.name)
    except UrgentCsvError as err:
        log.error("urgent topics file %s ignored: %s", p.name, err)
    return ()


def find_urgent(topics: Sequence[UrgentTopic], text: str, has_7119: bool) -> UrgentTopic | None:
    """The first topic matching ``text`` whose requirement holds for this ward."""
    normalized = normalize(text)
    if not normalized:
        return None
    for topic in topics:
        if topic.requires == "7119" and not has_7119:
            continue
        if topic.requires == "no7119" and has_7119:
            continue
        if topic.matches(normalized):
            return topic
    return None
