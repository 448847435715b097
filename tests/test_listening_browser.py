"""広聴 in the console, in Chromium against gunicorn + the worker + linesim: a survey made by one
person, approved by another, answered by residents tapping; an opinion sent in the chat and
answered by staff. Screenshots: survey_*.png, opinion*.png."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest
import requests

from tests.test_browser import login, new_page, shot, stack  # noqa: F401 - stack: a fixture

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
RESIDENT = f"U{0:032x}"  # one of the stack's residents (Japanese)


def _inbox(st, user):
    return requests.get(f"{st['sim']}/_emulator/messages", params={"to": user}, timeout=10).json()["messages"]


def _event(st, user, event, seconds=20):
    before = len(_inbox(st, user))
    r = requests.post(f"{st['sim']}/_emulator/webhook", json={"userId": user, "event": event}, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == 200, r.text
    deadline = time.time() + seconds
    while time.time() < deadline:
        msgs = _inbox(st, user)
        if len(msgs) > before:
            return msgs[-1]["message"]
        time.sleep(0.05)
    raise AssertionError("no reply")


def _tap(st, user, message, label):
    for item in message["quickReply"]["items"]:
        if item["action"].get("label") == label:
            return _event(st, user, {"type": "postback", "postback": {"data": item["action"]["data"]}})
    raise AssertionError(f"no {label}: {[i['action'].get('label') for i in message['quickReply']['items']]}")


def _say(st, user, text):
    return _event(st, user, {"type": "message", "message": {"type": "text", "text": text}})


def _logout(page):
    page.click("button.link")


def test_survey_made_approved_answered_and_an_opinion_answered(browser, stack):  # noqa: F811
    page = new_page(browser)
    login(page, stack, "staff1")
    page.goto(f"{stack['web']}/admin/surveys/new")
    page.fill("#title", "区の窓口アンケート")
    page.fill("#q0_text", "窓口の待ち時間はいかがでしたか")
    page.fill("#q0_options", "短い\nふつう\n長い")
    page.select_option("#q1_kind", "rating")
    page.fill("#q1_text", "職員の説明はわかりやすかったですか")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=作成者以外の承認者が承認すると送信できます")
    assert page.locator(".phone .bubble").first.inner_text().startswith("【アンケート】区の窓口アンケート")
    page.locator("h2", has_text="住民に届く文面").scroll_into_view_if_needed()
    shot(page, "survey_preview")
    survey_url = page.url
    _logout(page)

    login(page, stack, "appr1")
    page.goto(survey_url)
    page.click("text=下の文面で承認する")
    page.click("text=送信する")
    page.wait_for_selector("text=人への送信を始めました")
    deadline = time.time() + 30
    while time.time() < deadline and not _inbox(stack, RESIDENT):
        time.sleep(0.2)
    invite = _inbox(stack, RESIDENT)[-1]["message"]
    assert "窓口の待ち時間" in invite["text"]
    second = _tap(stack, RESIDENT, invite, "短い")
    assert "(2/2)" in second["text"]
    assert "ありがとうございました" in _tap(stack, RESIDENT, second, "5")["text"]
    other = f"U{6:032x}"
    _tap(stack, other, _inbox(stack, other)[-1]["message"], "長い")
    page.goto(survey_url)
    assert page.locator(".kpi", has_text="回答した人").locator("b").inner_text() == "2"
    page.locator("h2", has_text="結果").scroll_into_view_if_needed()
    shot(page, "survey_results")
    _logout(page)

    # An opinion from the chat, answered by staff.
    resident = f"U{12:032x}"
    msg = _say(stack, resident, "意見")
    msg = _tap(stack, resident, msg, "道路・交通")
    msg = _say(stack, resident, "若葉二丁目の歩道の段差が大きく、ベビーカーが通れません。")
    msg = _tap(stack, resident, msg, "写真なし")
    msg = _tap(stack, resident, msg, "回答を希望する")
    msg = _tap(stack, resident, msg, "送信する")
    number = msg["text"].split("受付番号は ")[1][:8]
    login(page, stack, "staff1")
    page.goto(f"{stack['web']}/admin/opinions")
    page.click(f"text={number}")
    assert "ベビーカー" in page.locator("main").inner_text()
    page.fill("#reply", "ご連絡ありがとうございます。今月中に段差を解消する工事を行います。")
    page.click("text=返信を送る")
    page.wait_for_selector("text=返信を送りました")
    deadline = time.time() + 30
    while time.time() < deadline:
        pushes = [m for m in _inbox(stack, resident) if m["kind"] == "push"]
        if pushes:
            break
        time.sleep(0.2)
    assert len(pushes) == 1 and "段差を解消する工事" in pushes[0]["message"]["text"]
    page.reload()
    assert "送信済み" in page.locator("main").inner_text()
    shot(page, "opinion_detail")
    page.goto(f"{stack['web']}/admin/opinions/report")
    assert page.locator(".kpi", has_text="受付件数").locator("b").inner_text() == "1"
    shot(page, "opinions_report")
    csv_text = page.request.get(f"{stack['web']}/admin/opinions/report?format=csv").text()
    assert "道路・交通" in csv_text and resident not in csv_text
    assert parse_qs("a=1")  # keep the helper import honest for readers of the postback data
