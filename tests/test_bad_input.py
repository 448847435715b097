"""Bad input from a signed webhook gets a clear answer (or is ignored when forged), never a crash:
impossible locations, postbacks with numbers too large for the database."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from bot.runtime import runtime
from tests.conftest import make_event, sign

USER = "U" + "b" * 32
INVALID = "位置情報を読み取れませんでした"


def _post_raw(client, body: str):
    data = body.encode()
    return client.post(
        "/callback", data=data, headers={"X-Line-Signature": sign(data), "Content-Type": "application/json"}
    )


def _location_body(emulator, lat, lon) -> str:
    message = {"type": "location", "id": "1", "title": "t", "address": "a", "latitude": 1.5, "longitude": 2.5}
    event = make_event("message", USER, emulator.mint_token(USER), message=message)
    body = json.dumps({"destination": "x", "events": [event]})
    # Written into the JSON text as LINE's parser would read it (NaN and Infinity are accepted by json).
    return body.replace('"latitude": 1.5', f'"latitude": {lat}').replace('"longitude": 2.5', f'"longitude": {lon}')


@pytest.mark.parametrize(
    "lat,lon",
    [
        ("999", "139.7"),
        ("35.6", "-181"),
        ("-90.5", "0"),
        ("NaN", "139.7"),
        ("35.6", "Infinity"),
        ("-Infinity", "0"),
        ("1e999", "139.7"),
    ],  # fmt: skip
)
def test_an_impossible_location_is_answered_plainly(client, emulator, caplog, lat, lon):
    caplog.set_level(logging.INFO)
    assert _post_raw(client, _location_body(emulator, lat, lon)).status_code == 200
    [reply] = emulator.messages(USER)
    assert INVALID in reply["message"]["text"]
    assert reply["message"]["quickReply"]["items"][0]["action"]["type"] == "location"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_real_location_still_finds_shelters(client, emulator):
    assert _post_raw(client, _location_body(emulator, "35.6895", "139.6917")).status_code == 200
    texts = emulator.texts(USER)
    assert texts and INVALID not in texts[0]


@pytest.mark.parametrize(
    "fields",
    [
        {"a": "fb", "v": "1", "q": "9" * 30, "id": "x"},
        {"a": "none", "q": "9" * 19},
        {"a": "bulky", "v": "cancel", "r": "-" + "9" * 25},
        {"a": "area_page", "p": "9" * 40},
        {"a": "g_item", "i": "9" * 30, "s": "1"},
    ],
)
def test_a_forged_postback_with_a_huge_number_is_handled_without_an_error(client, emulator, caplog, fields):
    caplog.set_level(logging.INFO)
    event = make_event("postback", USER, emulator.mint_token(USER), postback={"data": urlencode(fields)})
    assert _post_raw(client, json.dumps({"destination": "x", "events": [event]})).status_code == 200
    # Before: OverflowError (Python int too large for SQLite INTEGER) inside the handler.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- alert free text has documented limits ---------------------------------------------------------


def test_alert_headline_and_body_limits_in_the_cli(runner):
    from alerts import service

    def create(headline, body="本文です", *extra):
        args = ["alert", "create", "--headline", headline, "--body", body, "--status", "test", *extra, "--by", "op-a"]
        return runner.invoke(args=args)

    refused = create("見" * (service.HEADLINE_MAX + 1))
    assert refused.exit_code != 0 and f"見出しは{service.HEADLINE_MAX}文字までにしてください" in refused.output
    refused = create("断水", "本" * (service.BODY_MAX + 1))
    assert refused.exit_code != 0 and "本文は4,000文字までにしてください（いま4,001文字）" in refused.output
    refused = create("断水", "本文", "--translation", "en", "W" * 101, "Water")
    assert refused.exit_code != 0 and "英語の見出しは100文字までにしてください" in refused.output
    assert create("見" * service.HEADLINE_MAX, "本" * service.BODY_MAX).exit_code == 0


def test_alert_headline_limit_in_the_console_keeps_what_was_typed(app):
    from tests.conftest import create_staff, csrf_of, login

    create_staff(runtime(app).store.db, "oper1", "operator")
    c = app.test_client()
    assert login(c, "oper1").status_code == 302
    csrf = csrf_of(c.get("/admin/alerts/new").text)
    headline = "長い見出し" * 1000
    r = c.post(
        "/admin/alerts",
        data={"csrf_token": csrf, "kind": "exercise", "headline": headline, "body": "本文", "template": ""},
    )
    assert r.status_code == 400 and "見出しは100文字までにしてください（いま5,000文字）" in r.text
    assert headline in r.text  # nothing typed is lost
