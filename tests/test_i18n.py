"""Residents in their own language: catalog completeness and replies through the webhook."""

from __future__ import annotations

import importlib
import string

import pytest

from common.i18n import CATALOG_MODULES, LANGUAGES, t
from tests.conftest import post_events, postback_event, text_event


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("module_name", CATALOG_MODULES)
def test_catalog_complete(module_name):
    """Every key of every catalog module exists in every language, with the same {placeholders}."""
    messages = importlib.import_module(module_name).MESSAGES
    keys = set().union(*(m.keys() for m in messages.values())) if messages else set()
    problems = []
    for lang in LANGUAGES:
        bucket = messages.get(lang, {})
        for key in sorted(keys):
            if key not in bucket or not str(bucket[key]).strip():
                problems.append(f"{lang}:{key} missing")
            elif _fields(bucket[key]) != _fields(messages["ja"].get(key, bucket[key])):
                problems.append(
                    f"{lang}:{key} placeholders {_fields(bucket[key])} != ja {_fields(messages['ja'][key])}"
                )
    assert not problems, f"{module_name}: " + "; ".join(problems)


def test_no_unknown_languages_in_catalogs():
    for name in CATALOG_MODULES:
        assert set(importlib.import_module(name).MESSAGES) <= set(LANGUAGES), name


def test_t_falls_back_to_easy_then_ja():
    assert t("greeting", "fr") == t("greeting", "easy")
    with pytest.raises(KeyError):
        t("no-such-key", "en")


def _ask(client, emulator, user, text):
    token = emulator.mint_token(user)
    assert post_events(client, [text_event(user, text, token)]).status_code == 200
    return emulator.texts(user)[-1]


def _profile_calls(emulator, user):
    return [r for r in emulator.requests_log() if "/v2/bot/profile/" in r.get("path", "") and user in r.get("path", "")]


def test_en_profile_resident_gets_english_answer(client, emulator):
    emulator.add_user("Uen1", language="en")
    reply = _ask(client, emulator, "Uen1", "How do I get rid of a sofa?")
    assert reply.startswith("Large items")
    assert "Did this answer solve your problem?" in reply
    # "sofa" alone is no clear language: the profile (English) still decides.
    reply = _ask(client, emulator, "Uen1", "sofa")
    assert "Large items" in reply or "Did you mean" in reply
    assert len(_profile_calls(emulator, "Uen1")) <= 1, "profile looked up once, then cached"


def test_ko_profile_resident_gets_korean_ui_strings(client, emulator):
    emulator.add_user("Uko1", language="ko")
    assert _ask(client, emulator, "Uko1", "help").startswith("사용 방법")
    assert _ask(client, emulator, "Uko1", "안녕하세요") == t("greeting", "ko")
    assert _ask(client, emulator, "Uko1", "qwxz zzyq").startswith("죄송합니다. 그 질문에는 답변하지 못했습니다.")


def test_korean_question_from_ja_profile_resident_is_answered_in_korean(client, emulator):
    emulator.add_user("Uja1", language="ja")
    reply = _ask(client, emulator, "Uja1", "소파는 어떻게 버려요?")
    assert reply.startswith("가구, 이불, 자전거")
    assert "이 답변으로 해결되었나요?" in reply
    # A Japanese question from the same resident is answered in Japanese again.
    assert _ask(client, emulator, "Uja1", "粗大ごみを出したい").startswith("粗大ごみ")


def test_one_latin_word_does_not_flip_a_japanese_resident(client, emulator):
    emulator.add_user("Uja2", language="ja")
    reply = _ask(client, emulator, "Uja2", "WiFi")
    assert "申し訳ありません" in reply or "もしかして" in reply


def test_untranslated_entry_answers_in_japanese_with_a_note(client, emulator):
    emulator.add_user("Uvi1", language="vi")
    token = emulator.mint_token("Uvi1")
    # shisetsu-006 (dog registration) has no Vietnamese translation.
    assert post_events(client, [postback_event("Uvi1", "a=faq&id=shisetsu-006", token)]).status_code == 200
    reply = emulator.texts("Uvi1")[-1]
    first, rest = reply.split("\n\n", 1)
    assert first == t("translation_missing", "vi")
    assert "犬" in rest
    assert t("feedback_ask", "vi") in reply


def test_japanese_question_from_zh_resident_is_answered_in_japanese(client, emulator):
    emulator.add_user("Uzh1", language="zh-Hans")
    assert _ask(client, emulator, "Uzh1", "help").startswith("使用方法")
    reply = _ask(client, emulator, "Uzh1", "犬の登録はどうすればいいですか")
    assert "犬" in reply and "この回答で解決しましたか？" in reply


def test_zh_hant_resident_gets_traditional_ui_and_chinese_answer(client, emulator):
    emulator.add_user("Utw1", language="zh-TW")
    reply = _ask(client, emulator, "Utw1", "請問沙發要怎麼丟掉？")
    assert "这个回答" not in reply and "這個回答解決您的問題了嗎？" in reply
    assert "大件" in reply
