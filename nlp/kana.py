"""Kana-only words written back in the FAQ's own spelling (じゅうみんひょう → 住民票).

Sudachi's dictionary knows 住民票 but not every hiragana spelling of it: 「じゅうみんひょう」
comes out as じゅう|みん|ひょう, none of which is a content word the FAQ shares, so a
resident who cannot (or does not) type the kanji reaches no FAQ. A ``ReadingLexicon`` is
built from the FAQ's own words: their katakana reading → their spelling. A hiragana run of
the query whose reading is exactly one of those words, and which starts and ends on
Sudachi's morpheme boundaries, is replaced by the FAQ's spelling before matching.
A word the FAQ itself writes in kana (こども園) is left alone, and no rewrite starts on
grammar (「したい」 stays する+たい, not 死体).

The boundary rule keeps real words intact: 「いつから」 is いつ|から, so the FAQ's 五日
(イツカ) cannot swallow half of から.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nlp.tokenize import morpheme_bounds, reading_entries

MIN_READING = 3  # shorter readings (ゴミ, イエ, ハシ) are too ambiguous to rewrite
MAX_READING = 16
_HIRA_RUN = re.compile(f"[\u3041-\u3096\u30fc]{{{MIN_READING},}}")
_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def to_katakana(text: str) -> str:
    """Hiragana letters as katakana (everything else unchanged)."""
    return text.translate(_HIRA_TO_KATA)


class ReadingLexicon:
    """Katakana reading → spelling of the words a FAQ uses."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        spelling: dict[str, str] = {}
        in_kana: set[str] = set()
        for reading, surface in pairs:
            reading = to_katakana(reading)
            if not (MIN_READING <= len(reading) <= MAX_READING) or not surface:
                continue
            if surface == reading:
                pass  # katakana in the FAQ: a hiragana まいなんばー still becomes マイナンバー
            elif to_katakana(surface) == reading:
                # The FAQ itself writes this word in hiragana (こども園): leave it as it is.
                in_kana.add(reading)
                continue
            # The first spelling seen wins (questions are added before alternates).
            spelling.setdefault(reading, surface)
        self.spelling = {r: s for r, s in spelling.items() if r not in in_kana}
        self._max = max((len(r) for r in spelling), default=0)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> ReadingLexicon:
        """The lexicon of the content words of already-normalized ``texts``."""
        return cls(pair for text in texts for pair in reading_entries(text))

    def __len__(self) -> int:
        return len(self.spelling)

    def rewrite(self, norm: str) -> str:
        """``norm`` (normalized text) with kana words the lexicon knows in the FAQ's spelling."""
        if not self.spelling or not _HIRA_RUN.search(norm):
            return norm
        bounds, grammar = morpheme_bounds(norm)
        out: list[str] = []
        last = 0
        for run in _HIRA_RUN.finditer(norm):
            i, end = run.start(), run.end()
            while i < end:
                # Grammar right after a word (登録したい) stays grammar; at the start of the
                # message or after a space it is more likely a word Sudachi misread (まい|なん…).
                starts_word = i == 0 or not norm[i - 1].isalnum()
                hit = self._longest(norm, i, end, bounds) if i in bounds and (starts_word or i not in grammar) else None
                if hit is None:
                    i += 1
                    continue
                j, surface = hit
                out.append(norm[last:i])
                out.append(surface)
                last = i = j
        if not out:
            return norm
        out.append(norm[last:])
        return "".join(out)

    def _longest(self, norm: str, i: int, end: int, bounds: frozenset[int]) -> tuple[int, str] | None:
        for j in range(min(end, i + self._max), i + MIN_READING - 1, -1):
            if j not in bounds:
                continue
            surface = self.spelling.get(to_katakana(norm[i:j]))
            if surface is not None:
                return j, surface
        return None
