"""Language detection of messages and the resident-language order."""

from __future__ import annotations

import pytest

from bot.language import ProfileLanguageCache, choose, from_line_code, normalize_lang
from nlp.language import detect_language, to_simplified


@pytest.mark.parametrize(
    "text, expected",
    [
        ("How do I get rid of a sofa?", "en"),
        ("Where can I get juminhyo 住民票?", "en"),
        ("소파는 어떻게 버려요?", "ko"),
        ("마이넘버카드를 잃어버렸어요", "ko"),
        ("沙发怎么扔？", "zh"),
        ("居留卡丢了怎么办", "zh"),
        ("請問沙發要怎麼丟掉？", "zh-Hant"),
        ("Làm sao để vứt ghế sofa?", "vi"),
        ("lam sao de vut rac", "vi"),
        ("Como faço para jogar fora um sofá?", "pt"),
        ("Onde fica o centro de saude?", "pt"),
        ("粗大ごみを出したい", "ja"),
        ("WiFiはありますか", "ja"),
        ("マイナンバーカードをなくした", "ja"),
        # Unclear or too short: no switch.
        ("WiFi", None),
        ("OK", None),
        ("住民票", None),
        ("東京都庁", None),
        ("戸籍謄本", None),
        ("123", None),
        ("", None),
        ("👍", None),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_detect_language_rejects_non_str():
    with pytest.raises(ValueError):
        detect_language(None)  # type: ignore[arg-type]


def test_to_simplified():
    assert to_simplified("請問沙發要怎麼丟掉") == "请问沙发要怎么丢掉"


@pytest.mark.parametrize(
    "code, lang",
    [
        ("ja", "ja"),
        ("en", "en"),
        ("en-US", "en"),
        ("zh-Hans", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hant", "zh-Hant"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("ko", "ko"),
        ("vi", "vi"),
        ("pt", "pt"),
        ("pt-BR", "pt"),
        ("th", "ja"),
        ("fr", "ja"),
        (None, "ja"),
        ("", "ja"),
    ],
)
def test_from_line_code(code, lang):
    assert from_line_code(code) == lang


def test_normalize_lang_accepts_catalog_and_line_codes():
    assert normalize_lang("zh-Hant") == "zh-Hant"
    assert normalize_lang("easy") == "easy"
    assert normalize_lang("pt-BR") == "pt"
    assert normalize_lang("fr") is None
    assert normalize_lang(None) is None


@pytest.mark.parametrize(
    "choice, detected, profile, expected",
    [
        ("en", "ko", "ja", "ko"),  # a clearly Korean message is answered in Korean
        ("ja", "en", None, "en"),  # chose 日本語 at registration, asks in English
        ("en", "ja", None, "en"),  # a Japanese message keeps the chosen English (住民票 typed as known)
        ("easy", "ja", None, "easy"),  # the chosen register stays
        ("zh", "zh-Hant", None, "zh"),  # same family: the choice stays
        ("en", None, "ko", "en"),  # unclear message: the choice
        (None, "ko", "ja", "ko"),  # a Korean sentence from a ja-profile resident
        (None, None, "ko", "ko"),  # unclear message: the profile
        (None, "ja", "easy", "easy"),  # Japanese text keeps やさしい日本語
        (None, "zh", "zh-Hant", "zh-Hant"),  # same family: no flip
        (None, "en", None, "en"),
        (None, None, None, "ja"),
    ],
)
def test_choose_order(choice, detected, profile, expected):
    assert choose(choice, detected, profile) == expected


def test_profile_cache_calls_once_within_ttl_and_evicts():
    now = [0.0]
    calls: list[str] = []
    cache = ProfileLanguageCache(maxsize=2, ttl=10, clock=lambda: now[0])

    def fetch(uid: str) -> str:
        calls.append(uid)
        return "en"

    assert cache.get("U1", fetch) == "en"
    assert cache.get("U1", fetch) == "en"
    assert calls == ["U1"]
    now[0] = 11
    cache.get("U1", fetch)
    assert calls == ["U1", "U1"]
    cache.get("U2", fetch)
    cache.get("U3", fetch)  # evicts U1 (least recently used)
    cache.get("U1", fetch)
    assert calls[-1] == "U1" and len(calls) == 5


def test_multilang_eval_queries_are_detected_and_found():
    """Every query in the multilingual eval splits has a clear language; dev retrieval stays good."""
    from pathlib import Path

    from faq.csvio import load_faq_csv
    from faq.eval import read_queries
    from faq.index import FaqIndex
    from faq.multilang import MultiLangIndex, MultilingualSearch

    root = Path(__file__).resolve().parent.parent
    for split in ("dev", "test"):
        for q in read_queries(root / f"eval/multilang_queries_{split}.csv"):
            assert detect_language(q.query) not in (None, "ja"), q.query
    entries = load_faq_csv(root / "faq/data/sample_faq.csv")
    search = MultilingualSearch(FaqIndex.build(entries), MultiLangIndex.build(entries))
    dev = [q for q in read_queries(root / "eval/multilang_queries_dev.csv") if q.expected]
    top1 = sum(bool(hits) and hits[0].entry.id in q.expected for q in dev for hits in [search.search(q.query)])
    assert top1 / len(dev) >= 0.85
