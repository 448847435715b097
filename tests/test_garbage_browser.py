"""ごみ as a resident in the chat simulator (headless Chromium, gunicorn, linesim), and the staff page.

Screenshots: docs/screenshots/garbage_*.png when MADOGUCHI_SCREENSHOTS=1 (else a temp dir).
"""

from __future__ import annotations

import re

import pytest

from devtools.stack import running_stack
from tests.conftest import ROOT, create_staff
from tests.test_browser import login, new_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRET, TOKEN = "garbage-secret", "garbage-token"
RESIDENT = "Udev0000000000000000000000000001"  # the simulator's own user


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from garbage.service import import_directory
    from store import Store

    tmp = tmp_path_factory.mktemp("garbage-browser")
    db_url = f"sqlite:///{tmp / 'g.db'}"
    store = Store(db_url)
    import_directory(store.db, ROOT / "data" / "garbage" / "midori", by="test")
    create_staff(store.db, "staff1", "staff")
    store.close_thread_connection()
    with running_stack(tmp, SECRET, TOKEN, db_url, SECRET_KEY="garbage-key") as urls:
        yield {**urls, "store": Store(db_url)}


# Generous: the first answer of a fresh gunicorn builds the FAQ index, on a machine shared by
# many test runs at once.
WAIT_MS = 60000


def send(page, text: str, wait_for: str) -> None:
    page.fill("#msg-input", text)
    page.press("#msg-input", "Enter")
    page.wait_for_selector(f"text={wait_for}", timeout=WAIT_MS)


def chip(page, label: str, wait_for: str) -> None:
    page.locator(".chip", has_text=label).first.click()
    page.wait_for_selector(f"text={wait_for}", timeout=WAIT_MS)


def test_resident_asks_books_lists_and_cancels_in_the_simulator(browser, stack):
    page = new_page(browser, phone=True)
    page.goto(stack["sim"] + "/")
    send(page, "スプレー缶 捨て方", "【有害ごみ】")
    page.wait_for_selector("text=お住まいの地区を選んでください")
    shot(page, "garbage_item_ask_area")
    chip(page, "みどり一丁目", "みどり一丁目の次の有害ごみの日")
    send(page, "明日のごみは？", "みどり一丁目のごみの日です。")
    shot(page, "garbage_item_and_calendar")

    send(page, "粗大ごみ申込", "出したい品目を1つずつ")
    send(page, "ソファ", "どれですか？")
    chip(page, "ソファ（2人掛け）", "追加しました：ソファ（2人掛け）")
    send(page, "自転車", "合計 2,800円")
    chip(page, "次へ", "番地・建物名を送ってください")
    send(page, "3-12-5 みどりハイツ101", "収集日を選んでください")
    shot(page, "garbage_bulky_days")
    page.locator(".chip").first.click()
    page.wait_for_selector("text=この内容で申し込みますか？", timeout=WAIT_MS)
    chip(page, "申し込む", "受付番号：")
    shot(page, "garbage_bulky_booked")
    receipt = re.search(r"受付番号：(S\d+)", page.content()).group(1)

    send(page, "粗大ごみ確認", "あなたの粗大ごみの申込です。")
    chip(page, f"{receipt}を取消", "の申込を取り消しますか？")
    chip(page, "取り消す", f"{receipt}の申込を取り消しました。")
    shot(page, "garbage_bulky_cancelled")
    page.context.close()


def test_staff_page_shows_the_day_and_exports(browser, stack):
    from garbage.bulky import candidate_days
    from garbage.service import ward_today
    from store import garbage as garbage_store

    day = candidate_days(ward_today())[1]
    db = stack["store"].db
    for i, address in enumerate(("1-2-3", "4-5-6 グリーンコート202")):
        garbage_store.book_request(
            db,
            user_id=None,
            area="midori-1" if i == 0 else "wakaba-2",
            address=address,
            day=day.isoformat(),
            items=[{"name": "自転車", "fee": 800}, {"name": "布団", "fee": 400}],
            total_fee=1200,
            lang="ja",
            capacity=10,
            receipt_prefix="S",
        )
    page = new_page(browser)
    login(page, stack, "staff1")
    page.goto(stack["web"] + "/admin/garbage")
    page.wait_for_selector("text=日別・地区別")
    assert page.locator("text=4-5-6 グリーンコート202").count() == 1
    shot(page, "garbage_console")
    page.context.close()
