"""Kana-only questions reach the same FAQ as the kanji ones (nlp.kana + faq.index)."""

from pathlib import Path

import pytest

from faq.csvio import load_faq_csv
from faq.decide import decide
from faq.index import FaqIndex
from faq.synonyms import Synonyms
from nlp.kana import ReadingLexicon, to_katakana
from nlp.normalize import normalize

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ward() -> FaqIndex:
    return FaqIndex.build(load_faq_csv(ROOT / "faq" / "data" / "sample_faq.csv"), Synonyms.load())


@pytest.fixture(scope="module")
def lexicon() -> ReadingLexicon:
    texts = [
        "住民票の写しを取りたい",
        "税金を期限までに払えないときは？",
        "子どもの予防接種",
        "避難所はどこ",
        "こども園",
    ]
    texts += ["マイナンバーカードの申請", "五日に届く", "死体を見つけた", "世帯を分けたい"]
    return ReadingLexicon.from_texts(normalize(t) for t in texts)


@pytest.mark.parametrize(
    ("query", "rewritten"),
    [
        ("じゅうみんひょう", "住民票"),
        ("ぜいきんはらえない", "税金払えない"),
        ("こどものよぼうせっしゅ", "こどもの予防接種"),  # こども: the FAQ writes it so too
        ("ちかくのひなんじょ", "ちかくの避難所"),  # 避難|所 read with rendaku, as people say it
        ("まいなんばーかーど しんせい", "マイナンバーカード 申請"),
    ],
)
def test_kana_words_take_the_faq_spelling(lexicon: ReadingLexicon, query: str, rewritten: str) -> None:
    assert lexicon.rewrite(normalize(query)) == rewritten


@pytest.mark.parametrize(
    "query",
    [
        "印鑑登録したい",  # したい is grammar after a word, not 死体
        "経験をさせたい",  # not さ + 世帯
        "いつから",  # いつ|から: 五日 (イツカ) would cut から in half
        "こども園",  # the FAQ itself writes こども in kana
        "住民票",  # nothing in kana
        "",
    ],
)
def test_grammar_and_faq_kana_stay(lexicon: ReadingLexicon, query: str) -> None:
    assert lexicon.rewrite(normalize(query)) == normalize(query)


def test_empty_lexicon_rewrites_nothing() -> None:
    assert len(ReadingLexicon()) == 0
    assert ReadingLexicon().rewrite("じゅうみんひょう") == "じゅうみんひょう"
    assert to_katakana("じゅうみん票") == "ジュウミン票"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("じゅうみんひょう", "juminhyo-001"),
        ("ぜいきんはらえない", "zei-007"),
        ("こどものよぼうせっしゅ", "kosodate-005"),
        ("こせきとうほん ほしい", "juminhyo-005"),
    ],
)
def test_kana_questions_are_answered_like_kanji_ones(ward: FaqIndex, query: str, expected: str) -> None:
    hits = ward.search(query, k=3)
    decision = decide(hits)
    assert decision.kind == "answer" and decision.hit.entry.id == expected, [(h.entry.id, h.score) for h in hits]


def test_kana_query_form_is_what_is_matched(ward: FaqIndex) -> None:
    assert ward.query_form("じゅうみんひょう") == "住民票"
    assert ward.query_form("住民票をコンビニで") == normalize("住民票をコンビニで")
