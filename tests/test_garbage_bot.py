"""ごみ in the chat, through the real SDK and the emulator: items, the area asked once, calendars."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.runtime import runtime
from garbage.service import ward_today
from store import garbage as garbage_store
from store import residents as resident_store
from tests.conftest import make_event, post_events, say, tap

pytestmark = pytest.mark.both_engines

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "garbage" / "midori"
USER = "U" + "7" * 32
WEEKDAY = "月火水木金土日"
pytestmark = pytest.mark.both_engines


@pytest.fixture
def gomi(app, runner):
    result = runner.invoke(args=["garbage", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    return app


def quick_actions(message):
    return [i["action"] for i in (message.get("quickReply") or {}).get("items", [])]


def register(app, area="midori-1", lang="ja", topics=()):
    with app.app_context():
        db = runtime(app).store.db
        resident_store.set_resident(db, USER, area=area, lang=lang, lang_source="choice", topics=list(topics))


def oracle_next(start: date, weekdays: set[int], nth: set[tuple[int, int]] = frozenset(), months=None) -> date:
    """An independent reading of a cell, by walking day by day (みどり centre pause: 12/29-1/3)."""
    d = start
    while True:
        paused = (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)
        in_month = months is None or d.month in months
        n = (d.day - 1) // 7 + 1
        if not paused and in_month and (d.weekday() in weekdays or (d.weekday(), n) in nth):
            return d
        d += timedelta(days=1)


def jp(d: date) -> str:
    return f"{d.month}月{d.day}日（{WEEKDAY[d.weekday()]}）"


def test_item_question_asks_the_area_once_then_answers_with_the_next_date(gomi, client, emulator):
    first = say(client, emulator, "スプレー缶 捨て方")
    assert "「スプレー缶」は【有害ごみ】です。" in first[0]["text"]
    assert "穴はあけずに" in first[0]["text"]
    areas = quick_actions(first[-1])
    assert "地区" in first[-1]["text"] and areas[0]["label"] == "みどり一丁目"
    answered = tap(client, emulator, areas[0]["data"])
    # みどり一丁目 有害ごみ: 火2 金4 in even months (April … February).
    want = oracle_next(ward_today(), set(), {(1, 2), (4, 4)}, {4, 6, 8, 10, 12, 2})
    assert f"みどり一丁目の次の有害ごみの日：{jp(want)}" in answered[0]["text"]
    # Remembered: the next question is answered straight away.
    again = say(client, emulator, "電池は何ごみ？")
    assert len(again) == 1 and "【有害ごみ】" in again[0]["text"] and jp(want) in again[0]["text"]


def test_registered_area_and_bulky_item(gomi, client, emulator):
    register(gomi, area="sakuragaoka-1")
    sofa = say(client, emulator, "ソファを捨てたい")
    assert "「ソファ」は【粗大ごみ】です。" in sofa[0]["text"] and "申込制" in sofa[0]["text"]
    assert any(parse_qs(a["data"]).get("a") == ["bulky"] for a in quick_actions(sofa[0]))
    pan = say(client, emulator, "フライパンの出し方")
    want = oracle_next(ward_today(), set(), {(0, 2), (0, 4)})  # 桜ヶ丘一丁目 燃やさないごみ 月2 月4
    assert (
        "【燃やさないごみ】" in pan[0]["text"] and f"桜ヶ丘一丁目の次の燃やさないごみの日：{jp(want)}" in pan[0]["text"]
    )


def test_close_items_are_offered_and_can_be_chosen(gomi, client, emulator):
    register(gomi)
    got = say(client, emulator, "でんち")
    text = got[0]["text"]
    assert "電池" in text and "ほかの候補" in text
    choices = [a for a in quick_actions(got[0]) if parse_qs(a["data"]).get("a") == ["g_item"]]
    chosen = tap(client, emulator, choices[0]["data"])
    assert f"「{choices[0]['label']}」は【有害ごみ】です。" in chosen[0]["text"]


def test_faq_questions_still_reach_the_faq(gomi, client, emulator):
    register(gomi)
    got = say(client, emulator, "粗大ごみの手数料はいくら？処理券はどこで買える？")
    assert "処理券" in got[0]["text"] and "】です。" not in got[0]["text"]
    got = say(client, emulator, "住民票の写しを取りたい")
    assert "】です。" not in got[0]["text"]


def test_tomorrow_and_this_week(gomi, client, emulator):
    register(gomi, area="midori-1")
    today = ward_today()
    tomorrow = today + timedelta(days=1)
    got = say(client, emulator, "明日のごみは？")
    text = got[0]["text"]
    assert text.startswith("みどり一丁目のごみの日です。") and jp(tomorrow) in text
    paused = (tomorrow.month == 12 and tomorrow.day >= 29) or (tomorrow.month == 1 and tomorrow.day <= 3)
    if tomorrow.weekday() in (0, 3) and not paused:
        assert "燃やすごみ" in text
    week = say(client, emulator, "今週のごみの日")[0]["text"]
    assert week.count("\n") == 7 - today.weekday()  # intro + today … Sunday
    # The reminder is offered until the resident opts in.
    remind = [a for a in quick_actions(got[0]) if parse_qs(a["data"]).get("a") == ["g_remind"]]
    assert remind
    assert "前日の夕方" in tap(client, emulator, remind[0]["data"])[0]["text"]
    with gomi.app_context():
        assert "garbage" in resident_store.get_resident(runtime(gomi).store.db, USER).topics
    assert not quick_actions(say(client, emulator, "明日のごみは？")[0])


def test_other_languages_get_their_template_and_a_note(gomi, client, emulator):
    register(gomi, lang="en")
    got = say(client, emulator, "スプレー缶の捨て方")[0]["text"]
    assert (
        got.startswith("“スプレー缶” is 【有害ごみ】.") and "in Japanese" in got and "Next 有害ごみ collection" in got
    )


def test_without_garbage_data_the_faq_answers_as_before(app, client, emulator):
    got = say(client, emulator, "スプレー缶 捨て方")
    assert "】です。" not in got[0]["text"]


def test_unfollow_forgets_the_area_and_drafts(gomi, client, emulator):
    register(gomi)
    say(client, emulator, "粗大ごみ申込")
    with gomi.app_context():
        db = runtime(gomi).store.db
        req = garbage_store.book_request(
            db,
            user_id=USER,
            area="midori-1",
            address="1-1",
            day="2099-01-05",
            items=[{"name": "机", "fee": 800}],
            total_fee=800,
            lang="ja",
            capacity=5,
            receipt_prefix="S",
        )
    post_events(client, [make_event("unfollow", USER)])
    with gomi.app_context():
        assert resident_store.get_resident(db, USER) is None
        assert garbage_store.get_draft(db, USER) is None
        # The booking stays for the collection, without the LINE id.
        kept = garbage_store.get_request(db, req["id"])
        assert kept["status"] == "booked" and kept["user_id"] is None


def test_area_choices_survive_a_pending_registration_question(gomi, client, emulator):
    with gomi.app_context():
        resident_store.set_resident(runtime(gomi).store.db, USER, area=None, reg_step="lang", topics=[])
    got = say(client, emulator, "スプレー缶 捨て方")
    assert "【有害ごみ】" in got[0]["text"]
    areas = [a for a in quick_actions(got[-1]) if parse_qs(a["data"]).get("a") == ["g_area"]]
    assert areas and areas[0]["label"] == "みどり一丁目"
