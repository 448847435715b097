"""What residents hit when they chat: urgent health numbers, typed registration answers,
the chat language, shelters by area or in English, reactions, labels and FAQ ids —
through signed webhooks, the real SDK and the LINE emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.runtime import runtime
from bot.urgent import UrgentCsvError, find_urgent, load_urgent, parse_urgent_csv
from faq.csvio import load_faq_csv
from shelters import service as shelter_service
from store import core as core_store
from store import residents as resident_store
from tests.conftest import follow, say, tap
from webhook import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
USER = "U" + "7" * 32


def outcomes(app) -> list[str]:
    with app.app_context():
        return [r["outcome"] for r in core_store.query_log_rows(runtime(app).store.db)]


def resident(app, user: str = USER) -> resident_store.Resident:
    with app.app_context():
        return resident_store.get_resident(runtime(app).store.db, user)


def register(app, user: str = USER, **fields) -> None:
    with app.app_context():
        values = {"area": "midori-1", "lang": "ja", "lang_source": "choice", "reg_step": None, "topics": []}
        values.update(fields)
        resident_store.set_resident(runtime(app).store.db, user, **values)


def labels(message: dict) -> list[str]:
    return [i["action"].get("label", "") for i in message.get("quickReply", {}).get("items", [])]


# --- urgent health questions ------------------------------------------------------------------


def test_night_fever_of_a_child_gets_8000_before_any_office_number(app, client, emulator):
    (msg,) = say(client, emulator, "夜間に子どもが熱を出した")
    assert "#8000" in msg["text"] and "119" in msg["text"]
    assert app.config["CONTACT_PHONE"] not in msg["text"]  # the weekday office is closed at night
    assert outcomes(app) == ["urgent"]  # not an unanswered question for staff


def test_urgent_answers_in_the_residents_language(app, client, emulator):
    messages = say(client, emulator, "My child has a fever, what should I do at night?")
    assert "#8000" in messages[0]["text"] and "pediatricians" in messages[0]["text"]


def test_adult_emergency_uses_7119_only_where_it_exists(app, client, emulator):
    (msg,) = say(client, emulator, "夜中にお腹が痛くて病院に行くか迷う")
    assert "#7119" in msg["text"]
    app.config["URGENT_HAS_7119"] = False
    (msg,) = say(client, emulator, "夜中にお腹が痛くて病院に行くか迷う")
    assert "#7119" not in msg["text"] and "119" in msg["text"]


def test_life_threatening_words_say_119_first(app, client, emulator):
    (msg,) = say(client, emulator, "子どもがけいれんして意識がない")
    assert msg["text"].index("119") < 60 and "#8000" not in msg["text"]


def test_urgent_topic_with_an_faq_answer_gets_both(app, client, emulator, tmp_path):
    app.config["URGENT_CSV"] = str(_csv(tmp_path, "id,triggers,answer_ja\nx,粗大ごみ+至急,至急の方はこちら\n"))
    messages = say(client, emulator, "粗大ごみを至急出したい")
    assert messages[0]["text"] == "至急の方はこちら"
    assert "粗大ごみ" in messages[1]["text"] and outcomes(app) == ["answer"]


def _csv(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "urgent.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("triggers,answer_ja\n熱,x\n", "line 1, column id: required column missing"),
        ("id,triggers,answer_ja\na,,x\n", "line 2, column triggers: no trigger phrase"),
        ("id,triggers,answer_ja\na,熱,\n", "line 2, column answer_ja: empty"),
        ("id,triggers,answer_ja\na,熱,x\na,熱,y\n", "line 3, column id: duplicate id 'a'"),
        ("id,triggers,requires,answer_ja\na,熱,8000,x\n", "line 2, column requires: must be empty, 7119 or no7119"),
        ('id,triggers,answer_ja\na,熱,"two\nlines"\nb,,x\n', "line 4, column triggers: no trigger phrase"),
    ],
)
def test_urgent_csv_errors_name_line_and_column(text, error):
    with pytest.raises(UrgentCsvError) as err:
        parse_urgent_csv(text.encode())
    assert str(err.value) == error


def test_broken_urgent_file_leaves_the_faq_answering(app, client, emulator, tmp_path):
    app.config["URGENT_CSV"] = str(_csv(tmp_path, "id,triggers,answer_ja\na,,x\n"))
    messages = say(client, emulator, "粗大ごみを出したい")
    assert "粗大ごみ" in messages[0]["text"]
    assert load_urgent(tmp_path / "missing.csv") == ()


def test_sample_urgent_file_parses_and_excel_cp932_is_read(tmp_path):
    topics = load_urgent(ROOT / "data" / "urgent.csv")
    assert {"emergency", "child-night", "sick-7119", "sick-no7119"} <= {t.id for t in topics}
    path = tmp_path / "u.csv"
    path.write_bytes("id,triggers,answer_ja\nx,子ども+熱が出,＃８０００へ\n".encode("cp932"))
    (topic,) = load_urgent(path)
    assert find_urgent([topic], "子どもが熱が出た", has_7119=True) is topic
    assert topic.answer("ko") == "＃８０００へ"  # no Korean text: falls back to Japanese
    assert find_urgent([topic], "子どもの医療費", has_7119=True) is None


def test_fallback_number_is_the_wards_configured_one(app, client, emulator):
    number = DEFAULTS["CONTACT_PHONE"].split("（")[0]
    faq_text = (ROOT / "faq" / "data" / "sample_faq.csv").read_text(encoding="utf-8-sig")
    assert f"みどり区役所 代表 {number}" in faq_text  # the sample FAQ and the setting agree
    (msg,) = say(client, emulator, "火星への移住について相談したい")
    assert app.config["CONTACT_PHONE"] in msg["text"]


# --- reactions, labels, FAQ ids ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["👍", "🙇‍♀️🙇‍♀️", "了解です", "OK!"])
def test_reactions_are_acknowledged_not_unanswered(app, client, emulator, text):
    (msg,) = say(client, emulator, text)
    assert "ありがとうございます" in msg["text"] and "お答えできませんでした" not in msg["text"]
    assert "fallback" not in outcomes(app)


def test_candidate_labels_keep_their_numbers(app, client, emulator):
    # Broad enough for several candidates, whatever the decision (answer's runner-ups or もしかして).
    messages = say(client, emulator, "マイナンバーカード")
    numbered = [lab for lab in labels(messages[-1]) if re.match(r"^\d\. ", lab)]
    assert numbered and [int(lab[0]) for lab in numbered] == list(range(1, len(numbered) + 1))
    for lab in numbered:
        n = lab[0]
        assert re.search(rf"(^|\n){n}\. ", messages[-1]["text"])  # the same number as its line
        assert len(lab) <= 20


def test_answers_never_show_faq_ids(app, client, emulator):
    entries = {e.id: e for e in load_faq_csv(ROOT / "faq" / "data" / "sample_faq.csv")}
    assert "zei-008" in entries["zei-002"].answer
    messages = tap(client, emulator, "a=faq&id=zei-002")
    assert not re.search(r"[a-z]+-\d{3}", messages[0]["text"]), messages[0]["text"]
    assert "口座振替がおすすめ" in messages[0]["text"]
    # The entry it pointed to is one tap away.
    items = messages[0]["quickReply"]["items"]
    assert any("id=zei-008" in (i["action"].get("data") or "") for i in items)
    messages = tap(client, emulator, "a=faq&id=mynumber-003")
    assert "mynumber-006" not in messages[0]["text"]
    assert "「マイナンバーカードの電子証明書を更新したい」をご覧ください" in messages[0]["text"]


# --- the chat language ------------------------------------------------------------------------


def test_english_question_from_a_resident_who_chose_japanese(app, client, emulator):
    register(app, lang="ja")
    messages = say(client, emulator, "How can I throw away my old couch?")
    assert messages[0]["text"].startswith("Large items")
    assert resident(app).lang == "ja"  # notices stay in the chosen language
    # An entry with no English translation: answered in the chosen Japanese, no apology note.
    messages = tap(client, emulator, "a=faq&id=juminhyo-006")
    assert "郵送" in messages[0]["text"]


def test_english_question_without_translation_is_answered_in_the_chosen_language(app, client, emulator):
    from linebot.v3.messaging import TextMessage

    from bot.context import Ctx
    from bot.handlers.chat import answer_messages

    with app.app_context():
        rt = runtime(app)
        ctx = Ctx(config=app.config, store=rt.store, line=rt.line, faq=rt.faq, areas=rt.areas, lang="en")
        ctx.extra["chosen_lang"] = "ja"
        entry = rt.faq.current().index.get("juminhyo-006")
        (msg,) = answer_messages(ctx, entry, None)
    assert isinstance(msg, TextMessage)
    assert "not yet available in English" not in msg.text and "解決しましたか" in msg.text


# --- shelters by text -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["nearest shelter", "Where is the nearest evacuation shelter?", "shelter near me"])
def test_english_shelter_question_starts_the_location_search(app, client, emulator, text):
    (msg,) = say(client, emulator, text)
    assert [i["action"]["type"] for i in msg["quickReply"]["items"]] == ["location"]
    assert msg["quickReply"]["items"][0]["action"]["label"] == "Send my location"


@pytest.mark.parametrize("text", ["若葉の避難所", "わかばのひなんじょ", "若葉 避難所"])
def test_area_without_chome_lists_the_towns_shelters(app, client, emulator, text):
    intro, flex = say(client, emulator, text)
    assert "若葉一丁目・若葉二丁目・若葉三丁目" in intro["text"]
    names = [b["body"]["contents"][0]["text"] for b in flex["contents"]["contents"]]
    assert {"若葉小学校", "若葉第二小学校", "若葉地域センター"} <= set(names)


def test_area_names_in_the_residents_script(app, client, emulator):
    register(app, lang="en")
    intro, flex = say(client, emulator, "みどり二丁目の避難所")
    assert "Midori 2-chome" in intro["text"] and "みどり二丁目" not in intro["text"]
    with app.app_context():
        shelter_service.ensure_seeded(runtime(app).store, app.config["SHELTERS_CSV"])
    (msg,) = say(client, emulator, "settings")
    assert "Midori 1-chome" in msg["text"]


# --- typed registration answers ---------------------------------------------------------------


def test_registration_by_typing(app, client, emulator):
    emulator.add_user(USER, language="ja")
    follow(client, emulator)
    (msg,) = say(client, emulator, "みどり1丁目です")
    assert "言語" in msg["text"] and resident(app).area == "midori-1"
    (msg,) = say(client, emulator, "English")
    assert "notices" in msg["text"].lower() and resident(app).lang == "en"
    (msg,) = say(client, emulator, "ごみと子育て")
    assert set(resident(app).topics) >= {"garbage", "childcare"}
    (msg,) = say(client, emulator, "OK")
    r = resident(app)
    assert r.reg_step is None and "Midori 1-chome" in msg["text"]
    assert outcomes(app) == []  # no registration answer was logged as a question


def test_town_without_chome_asks_which_and_unknown_area_says_so(app, client, emulator):
    emulator.add_user(USER, language="ja")
    follow(client, emulator)
    (msg,) = say(client, emulator, "若葉です")
    assert "どの地域" in msg["text"]
    data = [i["action"]["data"] for i in msg["quickReply"]["items"]]
    assert data[:3] == ["a=area&v=wakaba-1&m=r", "a=area&v=wakaba-2&m=r", "a=area&v=wakaba-3&m=r"]
    (msg,) = say(client, emulator, "渋谷です")
    assert "見つかりませんでした" in msg["text"] and resident(app).reg_step == "area"
    ack, question = say(client, emulator, "了解です")  # small talk: acknowledged, then asked again
    assert "ありがとうございます" in ack["text"] and "地域を選んで" in question["text"]
    assert outcomes(app) == []


def test_a_question_mid_registration_is_answered_and_registration_goes_on(app, client, emulator):
    emulator.add_user(USER, language="ja")
    follow(client, emulator)
    messages = say(client, emulator, "粗大ごみを出したい")
    assert "粗大ごみ" in messages[0]["text"]
    assert "地域を選んで" in messages[-1]["text"]  # the pending question, with its buttons
    assert any("a=area" in (i["action"].get("data") or "") for i in messages[-1]["quickReply"]["items"])
    assert resident(app).reg_step == "area"


def test_a_maybe_list_mid_registration_keeps_its_buttons(app, client, emulator):
    emulator.add_user(USER, language="ja")
    follow(client, emulator)
    messages = say(client, emulator, "マイナンバーカード")
    data = [i["action"].get("data") or "" for i in messages[-1].get("quickReply", {}).get("items", [])]
    assert data and all(not d.startswith("a=area") for d in data)  # the candidates, not the area list
    assert any(d.startswith("a=faq") for d in data)
    assert resident(app).reg_step == "area"  # asked again with the next reply
    messages = say(client, emulator, "粗大ごみを出したい")
    assert "地域を選んで" in messages[-1]["text"]
