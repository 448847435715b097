"""粗大ごみ申込 in the chat through the real SDK: book, list, cancel; a full day; the fee list."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qs

import pytest

from bot.runtime import runtime
from garbage import bulky
from garbage.bulky import FeeListInvalid, parse_fee_list, sticker_breakdown
from garbage.service import ward_today
from store import garbage as garbage_store
from store import residents as resident_store
from tests.conftest import db_of, say, tap
from tests.test_garbage_bot import SAMPLE, USER, quick_actions

OTHER = "U" + "8" * 32
pytestmark = pytest.mark.both_engines


@pytest.fixture
def gomi(app, runner):
    assert runner.invoke(args=["garbage", "import", str(SAMPLE)]).exit_code == 0
    with app.app_context():
        resident_store.set_resident(runtime(app).store.db, USER, area="midori-1", topics=[])
    return app


def action(message, a_value=None, v=None):
    for act in quick_actions(message):
        q = parse_qs(act["data"])
        if (a_value is None or q.get("a") == [a_value]) and (v is None or q.get("v") == [v]):
            return act
    raise AssertionError(f"no quick reply v={v} in {quick_actions(message)}")


def expected_days(today: date, n: int = 6, skip=()) -> list[date]:
    """Independent reading of the rule: Monday–Saturday from today + 3, みどり centre pause skipped."""
    out, d = [], today + timedelta(days=3)
    while len(out) < n:
        paused = (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)
        if d.weekday() < 6 and not paused and d not in skip:
            out.append(d)
        d += timedelta(days=1)
    return out


def book_one(client, emulator, items=("自転車",), address="3-12-5 みどりハイツ101", pick=0, user=USER):
    say(client, emulator, "粗大ごみ申込", user=user)
    for item in items:
        got = say(client, emulator, item, user=user)
    got = tap(client, emulator, action(got[-1], "bulky", "next")["data"], user=user)
    assert "番地" in got[0]["text"]
    days = say(client, emulator, address, user=user)[0]
    day_action = [a for a in quick_actions(days) if parse_qs(a["data"]).get("v") == ["day"]][pick]
    confirm = tap(client, emulator, day_action["data"], user=user)[0]
    return days, confirm, tap(client, emulator, action(confirm, "bulky", "confirm")["data"], user=user)[0]


def test_book_list_and_cancel(gomi, client, emulator):
    say(client, emulator, "粗大ごみ申込")
    sofa = say(client, emulator, "ソファ")[0]
    # Three sofas in the fee list: the resident picks one.
    assert "どれですか" in sofa["text"] and "ソファ（2人掛け）（2,000円）" in sofa["text"]
    added = tap(client, emulator, action(sofa, "bulky", "add")["data"])[0]
    assert "追加しました：ソファ（1人掛け）（1,200円）" in added["text"]
    bike = say(client, emulator, "自転車")[0]
    assert "合計 2,000円" in bike["text"]
    ask = tap(client, emulator, action(bike, "bulky", "next")["data"])[0]
    assert ask["text"].startswith("みどり一丁目の番地")
    days = say(client, emulator, "3-12-5 みどりハイツ101")[0]
    offered = [parse_qs(a["data"])["d"][0] for a in quick_actions(days) if parse_qs(a["data"]).get("v") == ["day"]]
    assert offered == [d.isoformat() for d in expected_days(ward_today())]
    confirm = tap(client, emulator, action(days, "bulky", "day")["data"])[0]
    assert "合計 2,000円" in confirm["text"] and "みどり一丁目 3-12-5 みどりハイツ101" in confirm["text"]
    booked = tap(client, emulator, action(confirm, "bulky", "confirm")["data"])[0]["text"]
    assert "受付番号：S0000" in booked and "有料粗大ごみ処理券" in booked
    # 1,200 + 800 yen: 4 B券 and 0 A券 for the sofa, 2 B券 + 1 A券 for the bicycle.
    assert "A券（200円）1枚" in booked and "B券（300円）6枚" in booked
    receipt = booked.split("受付番号：")[1].split("\n")[0]

    listed = say(client, emulator, "粗大ごみ確認")[0]
    assert receipt in listed["text"] and "受付済み" in listed["text"] and "ソファ（1人掛け）・自転車" in listed["text"]
    ask_cancel = tap(client, emulator, action(listed, "bulky", "cancel")["data"])[0]
    done = tap(client, emulator, action(ask_cancel, "bulky", "cancel_yes")["data"])[0]
    assert f"{receipt}の申込を取り消しました" in done["text"]
    assert "取消済み" in say(client, emulator, "粗大ごみ確認")[0]["text"]
    # The place is free again.
    with gomi.app_context():
        first = offered[0]
        assert garbage_store.booked_counts(db_of(gomi), "midori-1", first, first).get(first, 0) == 0
        assert garbage_store.get_draft(db_of(gomi), USER) is None


def test_full_day_offers_the_next_free_dates(gomi, client, emulator):
    today = ward_today()
    first = expected_days(today)[0]
    with gomi.app_context():
        garbage_store.set_capacity(db_of(gomi), "midori-1", first.isoformat(), 1)
    days, confirm, booked = book_one(client, emulator)
    assert "受付番号" in booked["text"]
    # The first day is now full: another resident is offered the days after it.
    with gomi.app_context():
        resident_store.set_resident(db_of(gomi), OTHER, area="midori-1", topics=[])
    days, _, _ = book_one(client, emulator, user=OTHER, pick=0)
    offered = [parse_qs(a["data"])["d"][0] for a in quick_actions(days) if parse_qs(a["data"]).get("v") == ["day"]]
    assert first.isoformat() not in offered
    assert offered == [d.isoformat() for d in expected_days(today, skip={first})]


def test_day_taken_between_offer_and_confirm(gomi, client, emulator):
    today = ward_today()
    first = expected_days(today)[0]
    say(client, emulator, "粗大ごみ申込")
    got = say(client, emulator, "自転車")[0]
    tap(client, emulator, action(got, "bulky", "next")["data"])
    days = say(client, emulator, "1-2-3")[0]
    confirm = tap(client, emulator, action(days, "bulky", "day")["data"])[0]
    with gomi.app_context():  # staff close the day meanwhile
        garbage_store.set_capacity(db_of(gomi), "midori-1", first.isoformat(), 0)
    again = tap(client, emulator, action(confirm, "bulky", "confirm")["data"])[0]
    assert "満員になりました" in again["text"]
    offered = [parse_qs(a["data"])["d"][0] for a in quick_actions(again) if parse_qs(a["data"]).get("v") == ["day"]]
    assert first.isoformat() not in offered and offered


def test_quit_unknown_item_and_no_area(gomi, client, emulator):
    with gomi.app_context():
        resident_store.set_resident(db_of(gomi), USER, area=None)
    say(client, emulator, "粗大ごみ申込")
    assert "見つかりませんでした" in say(client, emulator, "宇宙船")[0]["text"]
    # Listing one's requests works in the middle of writing one (and the draft stays).
    assert "申込はありません" in say(client, emulator, "粗大ごみ確認")[0]["text"]
    got = say(client, emulator, "自転車")[0]
    area_q = tap(client, emulator, action(got, "bulky", "next")["data"])[0]
    assert "地区を選んで" in area_q["text"]
    ask = tap(client, emulator, action(area_q, "bulky", "area")["data"])[0]
    assert "番地" in ask["text"]
    assert "文字以内" in say(client, emulator, "x" * 61)[0]["text"]
    assert say(client, emulator, "やめる")[0]["text"] == "申込をやめました。"
    # After quitting, text is a question again (the FAQ / sorting list answers it).
    assert "【" in say(client, emulator, "スプレー缶")[0]["text"]


def test_cancel_refused_on_collection_day_and_for_others(gomi, client, emulator):
    # "Until the day before": on the collection day itself the truck may already be out.
    today = ward_today()
    with gomi.app_context():
        req = garbage_store.book_request(
            db_of(gomi),
            user_id=USER,
            area="midori-1",
            address="1-1",
            day=today.isoformat(),
            items=[{"name": "机", "fee": 800}],
            total_fee=800,
            lang="ja",
            capacity=5,
            receipt_prefix="S",
        )
    listed = say(client, emulator, "粗大ごみ確認")[0]
    assert req["receipt"] in listed["text"] and not quick_actions(listed)  # too late to cancel in LINE
    late = tap(client, emulator, f"a=bulky&v=cancel_yes&r={req['id']}")[0]
    assert "取り消せません" in late["text"]
    other = tap(client, emulator, f"a=bulky&v=cancel_yes&r={req['id']}", user=OTHER)[0]
    assert "申込はありません" in other["text"]
    with gomi.app_context():
        assert garbage_store.get_request(db_of(gomi), req["id"])["status"] == "booked"


def test_state_lives_in_the_database(gomi, app_config, client, emulator):
    """A second app (another worker process) continues the same dialogue."""
    from webhook import create_app

    say(client, emulator, "粗大ごみ申込")
    other = create_app(app_config).test_client()
    got = say(other, emulator, "自転車")[0]
    assert "追加しました：自転車" in got["text"]


def test_fee_list_errors_and_stickers():
    good = '品目,手数料,notes\nいす,400,\n自転車,"1,200円",\n'.encode()
    assert [f.fee for f in parse_fee_list(good)] == [400, 1200]
    cp932 = "品目,手数料\nいす,４００\n".encode("cp932")
    assert parse_fee_list(cp932)[0].fee == 400
    bad = "品目,手数料\nいす,四百\n,400\nいす,400\n机,450\n".encode()
    with pytest.raises(FeeListInvalid) as exc:
        parse_fee_list(bad)
    messages = [str(e) for e in exc.value.errors]
    assert messages == [
        "line 2, column 手数料: '四百' is not an amount in yen (e.g. 400 or 1,200円)",
        "line 3, column 品目: empty item name",
        "line 4, column 品目: duplicate item 'いす' (first on line 2)",
        "line 5, column 手数料: 450 yen cannot be paid with 処理券 (multiples of 100 yen)",
    ]
    with pytest.raises(FeeListInvalid, match="line 1, column 手数料: missing required column"):
        parse_fee_list("品目,price\nいす,400\n".encode())
    for total in range(200, 5000, 100):
        split = sticker_breakdown(total)
        assert split[200] * 200 + split[300] * 300 == total and split[200] >= 0
    with pytest.raises(ValueError):
        sticker_breakdown(100)
    assert bulky.can_cancel(date(2027, 1, 5), date(2027, 1, 4)) and not bulky.can_cancel(
        date(2027, 1, 4), date(2027, 1, 4)
    )
