"""The sorting list as a retrieval problem: the FAQ's lexical pipeline over item names.

Each item is indexed as a FAQ entry whose question is its name, with the name without its
bracketed part (「カップ麺の容器（紙製）」 → 「カップ麺の容器」) and its furigana as alternates,
and the category as the answer, so the same Sudachi + TF-IDF channels (words, characters,
katakana readings: 電池 / でんち / デンチ meet) rank items. The asking phrase around the item
(「〇〇の捨て方」「〇〇は何ごみ？」「〇〇を捨てたい」) is cut before searching: it names no item and
would only dilute the score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from faq.index import FaqIndex
from faq.model import FaqEntry
from nlp.normalize import normalize
from nlp.tokenize import analyze

_BRACKETS = re.compile(r"[（(［\[【〔「『][^）)］\]】〕」』]*[）)］\]】〕」』]")
_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_KATA_TO_HIRA = {c + 0x60: c for c in range(0x3041, 0x3097)}
# How people ask about an item, cut from the end of the question (normalized text).
_ASKING = re.compile(
    r"(?:(?:は|って|を|の)?(?:何|なに|なん|どの|どこの)(?:ごみ|ゴミ|ごみ分類|分類|曜日|日)"
    r"|(?:は|を|って)?(?:どう|どうやって|どのように|どうやったら)(?:捨て|すて|出せ|だせ|出す|だす|処分|分別)\w*"
    r"|(?:の|を)?(?:捨て方|すてかた|出し方|だしかた|処分方法|処分の仕方|分別方法|分け方|わけかた|分別)"
    r"|(?:を|は)?(?:捨て|すて|処分し|出し|だし)(?:たい|たいです|たいんですが|たいのですが|ます|る|てもいい|ても良い|方)"
    r"|(?:を|は)?(?:捨てる|すてる|出す|だす)(?:には|とき|時|場合)?"
    r"|(?:ですか|でしょうか|ですか\?|か|は|って|とか|など|なんですが|について)"
    r"|[?？!！。、,.\s]"
    r")+$"
)
_LEADING = re.compile(r"^(?:すみません|すいません|あの|えっと|ねえ)[、,\s]*")
MIN_SCORE = 0.35  # below this an item is not offered at all
# The sorting list answers at this score when the FAQ scores no higher (exact names score 1;
# see bench/README.md "ごみ" for the hit rate on a list we did not write).
ANSWER_SCORE = 0.6


def base_name(name: str) -> str:
    """The name without bracketed qualifiers: 「空き箱(紙製)」 → 「空き箱」."""
    return _BRACKETS.sub("", name).strip() or name.strip()


def kana_key(text: str) -> str:
    """Normalized text with hiragana as katakana (スプレー缶 / すぷれー缶 meet)."""
    return normalize(text).translate(_HIRA_TO_KATA).replace(" ", "")


def read_aloud(text: str) -> str:
    """The Sudachi reading of ``text`` in hiragana (「スプレー缶」 → 「すぷれーかん」)."""
    return analyze(normalize(text))[2].translate(_KATA_TO_HIRA)


def strip_asking(text: str) -> str:
    """「スプレー缶の捨て方」 → 「スプレー缶」; the text itself when nothing is left."""
    norm = normalize(text)
    core = _LEADING.sub("", norm)
    core = _ASKING.sub("", core).strip()
    return core or norm


@dataclass(frozen=True)
class ItemHit:
    index: int  # position in the item list
    score: float


class ItemIndex:
    """Search a sorting list (``garbage.model.Item``) by a resident's words."""

    def __init__(self, names: Sequence[str], furigana: Sequence[str] = ()) -> None:
        entries = []
        self._exact: dict[str, int] = {}
        for i, name in enumerate(names):
            alts = []
            base = base_name(name)
            if base != name:
                alts.append(base)
            kana = furigana[i] if i < len(furigana) else ""
            # Some forks put only the index letter (「あ」) in furigana: no reading to add.
            if kana and len(kana.strip()) > 1 and kana.strip() not in alts:
                alts.append(kana.strip())
            # The name's own reading in hiragana, so 「でんち」「すぷれーかん」 typed in kana meet
            # 電池 and スプレー缶 on the character channel too (the reading channel alone weighs
            # too little to carry a kana-only question).
            reading = read_aloud(base)
            if reading and reading not in alts and reading != base:
                alts.append(reading)
            entries.append(FaqEntry(id=str(i), question=name, answer="", alternates=tuple(alts)))
            for key in {kana_key(name), kana_key(base), *(kana_key(a) for a in alts)}:
                self._exact.setdefault(key, i)
        self._keys = [kana_key(base_name(n)) for n in names]
        self._index = FaqIndex.build(entries)
        self.size = len(entries)

    def search(self, text: str, k: int = 5) -> list[ItemHit]:
        """Best items first; an exact name (any kana, width, brackets) scores 1."""
        if not self.size:
            return []
        query = strip_asking(text)
        qkey = kana_key(query)
        exact = self._exact.get(qkey)
        hits = []
        for h in self._index.search(query, k=k):
            i, score = int(h.entry.id), h.score
            # 「自転車の空気入れ」 is a part of a 自転車, not one: never a sure answer to 「自転車」.
            if qkey and self._keys[i].startswith(qkey + "ノ"):  # kana_key writes の as ノ
                score = min(score, ANSWER_SCORE - 0.05)
            hits.append(ItemHit(i, score))
        hits.sort(key=lambda h: -h.score)
        if exact is not None:
            hits = [ItemHit(exact, 1.0)] + [h for h in hits if h.index != exact]
        return [h for h in hits if h.score >= MIN_SCORE][:k]
