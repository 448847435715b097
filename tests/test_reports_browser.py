"""A resident reports a broken road in the chat simulator (headless Chromium, real gunicorn, worker,
linesim); staff see it on a phone-sized console page, change its status, and the resident is told."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from devtools.stack import CHROMIUM, running_stack
from tests.conftest import PASSWORD, create_staff
from tests.reports_helpers import has_exif, jpeg_with_gps
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRET, TOKEN = "reports-secret", "reports-token"
RESIDENT = "Udev0000000000000000000000000001"  # the chat page's default user

if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (bash scripts/ensure-chromium.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from store import Store
    from store import reports as report_store

    tmp = tmp_path_factory.mktemp("reports-browser")
    db_url = f"sqlite:///{tmp / 'reports.db'}"
    store = Store(db_url)
    create_staff(store.db, "doro1", "staff")
    # Earlier reports, so the queue and the map look like a working day.
    now = time.time()
    earlier = [
        ("light", "街路灯・防犯灯", "in_progress", 35.7113, 139.6458, "wakaba-3", "防犯灯が点滅している"),
        ("park", "公園・遊具", "received", 35.6962, 139.6588, "kawabata-1", "ブランコの鎖がさびて切れそう"),
        ("dumping", "不法投棄", "done", 35.6887, 139.6510, "hinode", "冷蔵庫が置かれている"),
        ("sign", "カーブミラー・標識", "received", 35.7096, 139.6314, "asahigaoka", "カーブミラーが横を向いている"),
    ]
    report_store.insert_reports(
        store.db,
        [
            {
                "kind": k,
                "kind_name": n,
                "status": st,
                "lat": la,
                "lon": lo,
                "area_code": a,
                "description": d,
                "created_at": now - 3600 * (i + 2),
            }
            for i, (k, n, st, la, lo, a, d) in enumerate(earlier)
        ],
    )
    store.close_thread_connection()
    photo = tmp / "pothole.jpg"
    photo.write_bytes(jpeg_with_gps(size=(1200, 900)))
    with running_stack(
        tmp, SECRET, TOKEN, db_url, ("web", "worker", "answer"), SECRET_KEY="reports-key", MEDIA_DIR=str(tmp / "media")
    ) as urls:
        yield {**urls, "tmp": tmp, "photo": photo}


def phone(browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, locale="ja-JP")
    ctx.set_default_timeout(20000)
    return ctx.new_page()


def bot_says(page, text: str) -> None:
    page.locator("[data-testid=bot-message]", has_text=text).last.wait_for()


def chip(page, label: str):
    page.locator("#quick-reply .chip", has_text=label).first.click()


def test_resident_reports_in_the_simulator_and_staff_handle_it_on_a_phone(stack, browser):
    page = phone(browser)
    page.goto(stack["sim"] + "/")
    page.fill("#msg-input", "通報")
    page.press("#msg-input", "Enter")
    bot_says(page, "写真を送ってください")
    with page.expect_file_chooser() as chooser:
        chip(page, "カメラで撮る")
    chooser.value.set_files(str(stack["photo"]))
    bot_says(page, "場所を教えてください")
    chip(page, "位置情報を送る")
    page.fill("#loc-lat", "35.7047")
    page.fill("#loc-lon", "139.6541")
    page.fill("#loc-title", "みどり二丁目")
    page.click("#loc-send")
    bot_says(page, "何の不具合ですか")
    chip(page, "道路・歩道の損傷")
    bot_says(page, "ひとことで")
    page.fill("#msg-input", "歩道に深さ10cmほどの穴があります")
    page.press("#msg-input", "Enter")
    bot_says(page, "この内容で通報します")
    shot(page, "report_chat_phone")
    chip(page, "送信する")
    bot_says(page, "受付番号")
    receipt = page.locator("[data-testid=bot-message]", has_text="受付番号").last.inner_text()
    number = int(receipt.split("受付番号：")[1].split()[0])

    # Staff, on a phone: the queue, then the report.
    staff = phone(browser)
    staff.goto(f"{stack['web']}/admin/login")
    staff.fill("#name", "doro1")
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(f"{stack['web']}/admin/")
    staff.goto(f"{stack['web']}/admin/reports")
    card = staff.locator(f"a.card:has-text('#{number}')")
    card.wait_for()
    assert staff.locator("svg.dotmap circle[fill='#c62828']").count() == 3  # 受付: the new one and two earlier
    assert staff.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    shot(staff, "reports_phone")
    card.click()
    staff.locator("text=歩道に深さ10cmほどの穴があります").wait_for()
    img = staff.locator("img[alt='写真 1']")
    assert img.evaluate("el => el.complete && el.naturalWidth") == 640
    staff.fill("#status_notes", "12月5日に補修します")
    staff.click("button[value=in_progress]")
    staff.locator(".flash", has_text="対応中").wait_for()
    shot(staff, "report_detail_phone")
    staff.screenshot(path=str(stack["tmp"] / "report_detail_full.png"), full_page=True)
    print("full page:", stack["tmp"] / "report_detail_full.png")

    # The worker tells the resident once; the chat shows it.
    bot_says(page, f"受付番号{number}")
    time.sleep(2)  # another worker round must not repeat it
    pushes = requests.get(f"{stack['sim']}/_emulator/messages", params={"to": RESIDENT, "kind": "push"}).json()
    assert len(pushes["messages"]) == 1 and "対応中" in pushes["messages"][0]["message"]["text"]

    # The open data: the photo published without EXIF.
    [req] = requests.get(f"{stack['web']}/open311/v2/requests/{number}.json").json()
    assert req["status"] == "open" and req["description"] == ""
    photo = requests.get(req["media_url"].replace("localhost", "127.0.0.1"))
    assert photo.status_code == 200 and not has_exif(photo.content)
