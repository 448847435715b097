"""Alerts in each resident's language.

Checked per recipient in the emulator's /_emulator/messages record: every template has a text
in every language, each resident receives their own language's text (with the official term
and the Japanese name in parentheses), drills carry 【訓練】 in every language, and a
free-text alert falls back to やさしい日本語 (then Japanese) with the preview saying so.
"""

from __future__ import annotations

import re
import string

import pytest

from alerts import service
from common.i18n import LANGUAGES
from store import residents as resident_store
from tests.conftest import deliver_alerts

# The official term of each level in each language (Cabinet Office multilingual terms).
LEVEL4 = {
    "ja": "警戒レベル4、避難指示",
    "easy": "警戒（けいかい）レベル4",
    "en": "Evacuation instruction (避難指示",
    "zh": "警戒等级4「避难指示（避難指示）」",
    "zh-Hant": "警戒等級4「避難指示」",
    "ko": "피난지시(避難指示)",
    "vi": "Chỉ thị sơ tán (避難指示",
    "pt": "Instrução de evacuação (避難指示",
}
HAZARD_FLOOD = {
    "ja": "洪水",
    "easy": "洪水（こうずい）",
    "en": "flood",
    "zh": "洪水",
    "zh-Hant": "洪水",
    "ko": "홍수",
    "vi": "lũ lụt",
    "pt": "inundação",
}
SAMPLE_FIELDS = {
    "evac_level3": {"areas": "みどり一丁目", "hazard": "flood"},
    "evac_level4": {"areas": "みどり一丁目", "hazard": "flood"},
    "evac_level5": {"areas": "みどり一丁目", "hazard": "landslide"},
    "shelter_open": {"areas": "みどり一丁目", "shelter_name": "みどり小学校", "address": "みどり1-2-3"},
    "earthquake": {"areas": "みどり区", "intensity": "6弱"},
    "drill": {"scenario": "午前10時から避難訓練を行います。"},
}


def _users(prefix: str) -> dict[str, str]:
    return {lang: f"U{prefix}{lang.replace('-', '')}" for lang in LANGUAGES}


def _deliver(rt, alert_id):
    service.start_delivery(rt.store.db, alert_id, "suzuki")
    deliver_alerts(rt, alert_id)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_template_has_every_language():
    for name, tpl in service.TEMPLATES.items():
        assert set(tpl.texts) == set(LANGUAGES), name
        ja_fields = _placeholders("".join(tpl.texts["ja"]))
        for lang, (headline, body) in tpl.texts.items():
            used = _placeholders(headline + body) - {"hazard_name", "intensity_name"}
            # Every language shows every field the Japanese text shows (areas, shelter, address…).
            assert used | {"intensity"} >= ja_fields - {"hazard_name"}, (name, lang)
            assert not re.search("避難勧告", headline + body), (name, lang)  # abolished in 2021
        if tpl.level is not None and tpl.level >= 3:
            jp_term = tpl.title.split(" ", 1)[1]  # 高齢者等避難 / 避難指示 / 緊急安全確保
            for lang in ("en", "zh", "ko", "vi", "pt"):
                assert f"({jp_term}" in tpl.texts[lang][0] or f"（{jp_term}" in tpl.texts[lang][0], (name, lang)


@pytest.mark.parametrize("name", sorted(SAMPLE_FIELDS))
def test_every_template_renders_in_every_language(rt, name):
    tpl = service.TEMPLATES[name]
    alert_id = service.create_alert(
        rt.store.db, by="tanaka", template=name, fields=SAMPLE_FIELDS[name], status=tpl.status or "actual"
    )
    texts = service.get_alert(rt.store.db, alert_id)["texts"]
    assert set(texts) == set(LANGUAGES)
    rendered = {lang: msgs[0]["text"] for lang, msgs in texts.items()}
    assert len(set(rendered.values())) == len(LANGUAGES), "two languages got the same text"
    for lang, text in rendered.items():
        assert "{" not in text and "}" not in text, (lang, text)
        if "areas" in SAMPLE_FIELDS[name]:
            assert SAMPLE_FIELDS[name]["areas"] in text, lang
    if name == "earthquake":
        assert "6 Lower" in rendered["en"] and "6약" in rendered["ko"] and "震度6弱" in rendered["ja"]


def test_mixed_audience_gets_each_language(rt, emulator):
    db = rt.store.db
    users = _users("m")
    resident_store.bulk_add_residents(
        db, [{"user_id": uid, "lang": lang, "area": "midori-1"} for lang, uid in users.items()]
    )
    resident_store.bulk_add_residents(db, [{"user_id": "Uelsewhere", "lang": "ko", "area": "wakaba-1"}])
    alert_id = service.create_alert(
        db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "flood"}, areas=["midori-1"]
    )
    service.approve(db, alert_id, "suzuki")
    preview = service.preview(db, alert_id)
    groups = {g["resident_lang"]: g for g in preview["groups"]}
    assert set(groups) == set(LANGUAGES) and preview["recipient_count"] == len(LANGUAGES)
    assert all(g["lang"] == lang and g["fallback_from"] is None for lang, g in groups.items())
    # No language falls back; the only note is the 「近くの避難所」 guide an evacuation order carries.
    assert preview["fallbacks"] == [] and len(preview["notes"]) == 1 and "近くの避難所" in preview["notes"][0]
    stored = service.get_alert(db, alert_id)["texts"]
    _deliver(rt, alert_id)
    record = emulator.messages()
    assert sorted(m["to"] for m in record) == sorted(users.values())  # once each, nobody else
    for lang, uid in users.items():
        (msg,) = [m for m in record if m["to"] == uid]
        text = msg["message"]["text"]
        assert text == stored[lang][0]["text"], lang  # exactly the preview's text for that language
        assert LEVEL4[lang] in text, (lang, text)
        assert HAZARD_FLOOD[lang] in text, (lang, text)
        assert "みどり一丁目" in text
    assert emulator.texts("Uelsewhere") == []


def test_drill_marker_in_every_language(rt, emulator):
    db = rt.store.db
    users = _users("d")
    resident_store.bulk_add_residents(db, [{"user_id": uid, "lang": lang} for lang, uid in users.items()])
    alert_id = service.create_alert(db, by="tanaka", template="drill", fields=SAMPLE_FIELDS["drill"], status="exercise")
    service.approve(db, alert_id, "suzuki")
    _deliver(rt, alert_id)
    for lang, uid in users.items():
        (text,) = emulator.texts(uid)
        assert text.startswith("【訓練】") and text.rstrip().splitlines()[-1].startswith("【訓練】"), lang
        assert "午前10時から避難訓練" in text, lang
    assert "DRILL" in emulator.texts(users["en"])[0] and "훈련" in emulator.texts(users["ko"])[0]
    assert "diễn tập" in emulator.texts(users["vi"])[0] and "simulado" in emulator.texts(users["pt"])[0]
    # A test alert: 【テスト】 in every language too.
    test_id = service.create_alert(
        db, by="tanaka", template="evac_level3", fields=SAMPLE_FIELDS["evac_level3"], status="test"
    )
    for lang, messages in service.get_alert(db, test_id)["texts"].items():
        assert messages[0]["text"].startswith("【テスト】"), lang


def test_free_text_falls_back_to_easy_japanese_and_preview_says_so(rt, emulator, runner):
    db = rt.store.db
    resident_store.bulk_add_residents(
        db,
        [
            {"user_id": "Ufja", "lang": "ja"},
            {"user_id": "Ufko", "lang": "ko"},
            {"user_id": "Ufen", "lang": "en"},
        ],
    )
    # Japanese only (ふつうの日本語 and やさしい日本語), as an operator writes it in a hurry.
    alert_id = service.create_alert(
        db,
        by="tanaka",
        headline="給水のお知らせ",
        body="みどり公園で午後1時から給水を行います。",
        translations={
            "easy": (
                "水（みず）を 配（くば）ります",
                "午後（ごご）1時（じ）から みどり公園（こうえん）で 水を 配ります。",
            )
        },
    )
    service.approve(db, alert_id, "suzuki")
    p = service.preview(db, alert_id)
    groups = {g["resident_lang"]: g for g in p["groups"]}
    assert groups["ko"]["lang"] == "easy" and groups["ko"]["fallback_from"] == "ko"
    assert groups["en"]["lang"] == "easy" and groups["en"]["fallback_from"] == "en"
    assert groups["ja"]["lang"] == "ja" and groups["ja"]["fallback_from"] is None
    assert {"resident_lang": "ko", "lang": "easy", "count": 1} in p["fallbacks"]
    assert any("韓国語の文面がないため" in n and "やさしい日本語" in n for n in p["notes"])
    out = runner.invoke(args=["alert", "preview", str(alert_id)])
    assert out.exit_code == 0 and "韓国語の文面がないため、1人にはやさしい日本語の文面が届きます" in out.output
    _deliver(rt, alert_id)
    (ko_text,) = emulator.texts("Ufko")
    assert "水（みず）を 配（くば）ります" in ko_text and "給水のお知らせ" not in ko_text
    assert emulator.texts("Ufen") == [ko_text]
    assert "給水のお知らせ" in emulator.texts("Ufja")[0]

    # Japanese only, no やさしい日本語: the preview warns that foreign-language residents get plain Japanese.
    plain = service.create_alert(db, by="tanaka", headline="断水のお知らせ", body="午後は断水します。")
    p = service.preview(db, plain)
    assert {g["resident_lang"]: g["lang"] for g in p["groups"]} == {"ja": "ja", "ko": "ja", "en": "ja"}
    assert any("やさしい日本語の文面がありません" in n for n in p["notes"])

    # The CLI takes the operator's own texts per language.
    out = runner.invoke(
        args=[
            "alert",
            "create",
            "--headline",
            "断水のお知らせ",
            "--body",
            "午後は断水します。",
            "--translation",
            "ko",
            "단수 안내",
            "오후에 단수됩니다.",
            "--by",
            "tanaka",
        ]
    )
    assert out.exit_code == 0, out.output
    texts = service.get_alert(db, int(out.output.strip().splitlines()[-1]))["texts"]
    assert set(texts) == {"ja", "ko"} and "단수 안내" in texts["ko"][0]["text"]
    assert "英語の文面がないため、1人には日本語の文面が届きます" in out.output


def test_free_text_translations_are_validated(rt):
    db = rt.store.db
    with pytest.raises(service.InvalidAlert):
        service.create_alert(db, by="tanaka", headline="h", body="b", translations={"xx": ("h", "b")})
    with pytest.raises(service.InvalidAlert):
        service.create_alert(db, by="tanaka", headline="h", body="b", translations={"en": ("only a headline", "")})
    with pytest.raises(service.InvalidAlert):
        service.create_alert(
            db,
            by="tanaka",
            template="evac_level4",
            fields=SAMPLE_FIELDS["evac_level4"],
            translations={"en": ("h", "b")},
        )
    with pytest.raises(service.DrillAsActual):
        service.create_alert(db, by="tanaka", headline="給水", body="給水します", translations={"en": ("Drill", "b")})
    # "exercise caution" is ordinary English in a real alert.
    ok = service.create_alert(
        db,
        by="tanaka",
        headline="給水",
        body="給水します",
        translations={"en": ("Water supply", "Please exercise caution on the way.")},
    )
    assert set(service.get_alert(db, ok)["texts"]) == {"ja", "en"}
