"""Sudachi tokens and content words.

A Sudachi ``Tokenizer`` must not be used from two threads at once, so each thread
gets its own, created lazily from one shared ``Dictionary``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from nlp.normalize import normalize

Mode = Literal["A", "B", "C"]

_dict_lock = threading.Lock()
_dictionary = None
_local = threading.local()


@dataclass(frozen=True, slots=True)
class Token:
    """One morpheme."""

    surface: str
    normalized_form: str
    dictionary_form: str
    reading_form: str
    pos: tuple[str, ...]


def _get_dictionary():  # type: ignore[no-untyped-def]
    global _dictionary
    if _dictionary is None:
        with _dict_lock:
            if _dictionary is None:
                from sudachipy import Dictionary

                _dictionary = Dictionary(dict="core")
    return _dictionary


def _tokenizer(mode: Mode):  # type: ignore[no-untyped-def]
    cache = getattr(_local, "tokenizers", None)
    if cache is None:
        cache = _local.tokenizers = {}
    tok = cache.get(mode)
    if tok is None:
        if mode not in ("A", "B", "C"):
            raise ValueError(f"mode must be 'A', 'B' or 'C', not {mode!r}")
        tok = cache[mode] = _get_dictionary().tokenizer(mode=mode)
    return tok


def _morphemes(text: str, mode: Mode):  # type: ignore[no-untyped-def]
    # Sudachi rejects inputs over ~49 KB; FAQ questions and chat messages are far shorter.
    return _tokenizer(mode).tokenize(text[:10000])


def tokens(text: str, mode: Mode = "C") -> list[Token]:
    """Tokenize already-normalized or raw ``text`` with Sudachi in split ``mode``."""
    if not text or not text.strip():
        return []
    return [
        Token(m.surface(), m.normalized_form(), m.dictionary_form(), m.reading_form(), tuple(m.part_of_speech()))
        for m in _morphemes(text, mode)
        if m.surface().strip()
    ]


# Part-of-speech heads that carry meaning.
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "接頭辞", "接尾辞", "代名詞"}
# Normalized forms that appear in how people ask, not in what they ask about.
STOP_FORMS = frozenset(
    """為る 有る 居る 成る 出来る 良い 宜しい 下さる 頂く 戴く 貰う 呉れる 教える 知る 思う 言う 分かる 判る
    付く つく 遣る 行う 致す 申す 願う 御願い 欲しい 困る 伺う 聞く 訊く 尋ねる 考える 見る 来る 行く 置く 仕舞う 上げる
    事 物 方 所 為 様 訳 筈 積もり 辺り 感じ 的 等 達 さん 様 こと もの ところ ため よう
    何 如何 どう どんな どの どちら どれ 何か 何処か 此れ 其れ 彼れ 此処 其処 此の 其の 彼の 此方 其方 私 僕 自分 我が
    すむ 済む 宜しく 御座る 有り難い 有難う ありがとう 御世話 おる 居る 今日は 今晩は 失礼 恐れ入る 恐縮 助かる
    うち 全然 ちゃんと 結構 色々 ちょっと 一寸 少し 少々 もう 又 まだ 未だ とても 凄い 非常 大変 ぜひ 是非 一応 取り敢えず 実は 今度
    具体 詳しい 詳細 方法 仕方 問い合わせ 質問 相談 確認 お 御 ご 可能 必要 大丈夫 本当 自体 関係 について 関する
    場合 時 際 中 上 以外 以上 以下 くらい 位 ほど 程 頃 後 前 無い ない ある いる""".split()
)
# Interrogatives that change what is asked keep their meaning as features.
_KEEP_QUESTION_WORDS = frozenset({"何時", "何処", "幾ら", "誰", "何故"})


def _is_content(m) -> bool:  # type: ignore[no-untyped-def]
    pos = m.part_of_speech()
    if pos[0] not in _CONTENT_POS:
        return False
    nf = m.normalized_form()
    if nf in _KEEP_QUESTION_WORDS:
        return True
    if nf in STOP_FORMS or m.dictionary_form() in STOP_FORMS:
        return False
    if pos[0] in ("接頭辞", "接尾辞") and len(m.surface()) == 1 and m.surface() in "おご御様さん的等":
        return False
    return True


def content_words(text: str, mode: Mode = "C") -> list[str]:
    """Normalized forms of the meaningful words of ``text`` (no particles, politeness, filler)."""
    norm = normalize(text)
    if not norm:
        return []
    return [m.normalized_form() for m in _morphemes(norm, mode) if m.surface().strip() and _is_content(m)]


_READING_SKIP_POS = frozenset({"補助記号", "空白", "記号"})
_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def _reading(m) -> str:  # type: ignore[no-untyped-def]
    r = m.reading_form()
    if not r or r == "キゴウ":
        r = m.surface()
    return r.translate(_HIRA_TO_KATA)


@lru_cache(maxsize=8192)
def _analyze_cached(norm: str) -> tuple[tuple[str, ...], str, str]:
    out: list[str] = []
    surfaces: list[str] = []
    readings: list[str] = []
    for m in _morphemes(norm, "C"):
        if not m.surface().strip():
            continue
        head = m.part_of_speech()[0]
        if head not in _READING_SKIP_POS:
            readings.append(_reading(m))
        if not _is_content(m):
            continue
        surfaces.append(m.surface())
        nf = m.normalized_form()
        out.append(nf)
        # Mode-A parts let a compound meet its pieces (児童手当 ↔ 手当, 受け取る ↔ 受ける).
        parts = m.split("A") if len(m.surface()) > 2 else [m]
        if len(parts) > 1:
            for p in parts:
                if _is_content(p):
                    out.append(p.normalized_form())
        reading = m.reading_form()
        if reading and m.part_of_speech()[0] in ("名詞", "形状詞"):
            # Readings let 粗大ごみ / そだいごみ / ソダイゴミ meet.
            out.append("~" + reading)
            if len(parts) > 1:
                out.extend("~" + p.reading_form() for p in parts if _is_content(p))
    return tuple(out), " ".join(surfaces), "".join(readings)


def word_features(text: str) -> list[str]:
    """Index/query features: normalized forms (mode C and its A parts) plus kana readings."""
    norm = normalize(text)
    if not norm:
        return []
    return list(_analyze_cached(norm)[0])


def analyze(norm: str) -> tuple[tuple[str, ...], str, str]:
    """For already-normalized text: word features, content-word surfaces joined by spaces,
    and the katakana reading of the whole text (particles kept, symbols dropped)."""
    if not norm:
        return (), "", ""
    return _analyze_cached(norm)


_RENDAKU = dict(
    zip("カキクケコサシスセソタチツテトハヒフヘホ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボ", strict=True)
)
_LEXICON_POS = frozenset({"名詞", "形状詞", "動詞", "形容詞"})


def reading_entries(norm: str) -> list[tuple[str, str]]:
    """(katakana reading, surface) of the content words of normalized ``norm`` and their
    mode-A parts: what a kana-only question may spell differently (nlp.kana)."""
    if not norm:
        return []
    out: list[tuple[str, str]] = []
    prev = None  # a compound Sudachi splits (避難|所) is also one word to a resident
    for m in _morphemes(norm, "C"):
        noun = m.part_of_speech()[0] in ("名詞", "接尾辞")
        if prev is not None and noun and m.reading_form() not in ("", "キゴウ"):
            second = m.reading_form()
            out.append((prev[0] + second, prev[1] + m.surface()))
            if second[0] in _RENDAKU:  # 避難所 is read ヒナンジョ, Sudachi says ヒナンショ
                out.append((prev[0] + _RENDAKU[second[0]] + second[1:], prev[1] + m.surface()))
        prev = (
            (m.reading_form(), m.surface())
            if m.part_of_speech()[0] == "名詞" and m.reading_form() != "キゴウ"
            else None
        )
        if m.part_of_speech()[0] not in _LEXICON_POS or not _is_content(m):
            continue
        parts = m.split("A") if len(m.surface()) > 2 else [m]
        for p in (m, *parts) if len(parts) > 1 else (m,):
            reading = p.reading_form()
            if reading and reading != "キゴウ":
                out.append((reading, p.surface()))
    return out


# Morphemes that begin grammar, not a word: 「したい」 (為る+たい) must not become 死体,
# 「させたい」 not さ+世帯, 「なくなった」 not 亡くなった.
_GRAMMAR_VERBS = frozenset(
    "為る 成る 無い 居る 有る 出来る 下さる 頂く 貰う 呉れる 仕舞う 為さる 致す 良い 見る 行く 来る".split()
)


@lru_cache(maxsize=4096)
def morpheme_bounds(norm: str) -> tuple[frozenset[int], frozenset[int]]:
    """Character offsets where a Sudachi mode-A morpheme of ``norm`` starts or ends, and the
    offsets where a grammatical morpheme (auxiliary, particle, する・なる・ない…) starts."""
    bounds = {0, len(norm)}
    grammar: set[int] = set()
    for m in _morphemes(norm, "A"):
        bounds.add(m.begin())
        bounds.add(m.end())
        head = m.part_of_speech()[0]
        # A one-kana particle may be Sudachi's misreading of a word's first kana (ぜ|いき|ん).
        if (
            head == "助動詞"
            or (head in ("助詞", "接尾辞") and len(m.surface()) > 1)
            or (head in ("動詞", "形容詞") and m.normalized_form() in _GRAMMAR_VERBS)
        ):
            grammar.add(m.begin())
    return frozenset(bounds), frozenset(grammar)
