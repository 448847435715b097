"""linesim exercised through the real line-bot-sdk v3 client, as the bot will use it."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessageAction,
    MessagingApi,
    MulticastRequest,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent
from werkzeug.serving import make_server

import linesim

SECRET = "test-channel-secret"
TOKEN = "test-access-token"
USER = "U" + "1" * 32


@contextmanager
def serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def running_sim() -> Iterator[tuple[str, object]]:
    app = linesim.create_app(SECRET, TOKEN)
    with serve(app) as base:
        yield base, app.extensions["linesim"]


@pytest.fixture
def sim(running_sim) -> tuple[str, object]:
    running_sim[1].reset_all()
    return running_sim


@pytest.fixture
def base(sim) -> str:
    return sim[0]


@contextmanager
def messaging(base: str, token: str = TOKEN) -> Iterator[MessagingApi]:
    with ApiClient(Configuration(host=base, access_token=token)) as client:
        yield MessagingApi(client)


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def text(n: int = 1) -> list[TextMessage]:
    return [TextMessage(text=f"m{i}") for i in range(n)]


def test_reply_token_single_use(base):
    token = call(base, "POST", "/_emulator/reply-tokens", {"userId": USER})["replyToken"]
    with messaging(base) as api:
        resp = api.reply_message_with_http_info(ReplyMessageRequest(reply_token=token, messages=text(2)))
        assert resp.status_code == 200
        assert resp.headers["x-line-request-id"]
        assert len(resp.data.sent_messages) == 2 and resp.data.sent_messages[0].quote_token
        with pytest.raises(ApiException) as exc:
            api.reply_message(ReplyMessageRequest(reply_token=token, messages=text()))
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["message"] == "Invalid reply token"
    got = call(base, "GET", f"/_emulator/messages?to={USER}")["messages"]
    assert [(m["kind"], m["message"]["text"]) for m in got] == [("reply", "m0"), ("reply", "m1")]


def test_wrong_token_is_401(base):
    with messaging(base, token="wrong") as api, pytest.raises(ApiException) as exc:
        api.push_message(PushMessageRequest(to=USER, messages=text()))
    assert exc.value.status == 401
    assert json.loads(exc.value.body)["message"].startswith("Authentication failed")


@pytest.mark.parametrize(
    "request_factory, prop",
    [
        # construct() skips the SDK's own client-side checks so the request reaches the server.
        (lambda: MulticastRequest.construct(to=[f"U{i:032x}" for i in range(501)], messages=text()), "to"),
        (lambda: PushMessageRequest.construct(to=USER, messages=text(6)), "messages"),
        (lambda: PushMessageRequest(to=USER, messages=[TextMessage(text="a" * 4999 + "😀")]), "messages[0].text"),
        (
            lambda: PushMessageRequest(
                to=USER,
                messages=[
                    TextMessage(
                        text="q",
                        quick_reply=QuickReply(items=[QuickReplyItem(action=MessageAction(label="x" * 21, text="x"))]),
                    )
                ],
            ),
            "messages[0].quickReply.items[0].action.label",
        ),
    ],
)
def test_limits_are_400(base, request_factory, prop):
    req = request_factory()
    with messaging(base) as api, pytest.raises(ApiException) as exc:
        if isinstance(req, MulticastRequest):
            api.multicast(req)
        else:
            api.push_message(req)
    assert exc.value.status == 400
    assert prop in [d["property"] for d in json.loads(exc.value.body)["details"]]


def test_text_at_limit_is_accepted(base):
    with messaging(base) as api:
        api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="a" * 4998 + "😀")]))


def test_retry_key_repeat_is_409_and_delivered_once(base):
    key = str(uuid.uuid4())
    users = [USER, "U" + "2" * 32]
    with messaging(base) as api:
        first = api.multicast_with_http_info(MulticastRequest(to=users, messages=text()), x_line_retry_key=key)
        assert first.status_code == 200
        with pytest.raises(ApiException) as exc:
            api.multicast(MulticastRequest(to=users, messages=text()), x_line_retry_key=key)
        with pytest.raises(ApiException) as bad_key:
            api.push_message(PushMessageRequest(to=USER, messages=text()), x_line_retry_key="not-a-uuid")
    assert exc.value.status == 409
    assert exc.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert bad_key.value.status == 400
    assert call(base, "GET", "/_emulator/delivery-counts") == {
        "counts": {USER: 1, users[1]: 1},
        "requests": 1,
        "replies": 0,
        "totalUsage": 2,
    }


def test_retry_key_not_allowed_on_reply(base):
    token = call(base, "POST", "/_emulator/reply-tokens", {})["replyToken"]
    with messaging(base) as api, pytest.raises(ApiException) as exc:
        api.api_client.call_api(
            "/v2/bot/message/reply",
            "POST",
            header_params={
                "Content-Type": "application/json",
                "X-Line-Retry-Key": str(uuid.uuid4()),
                "Authorization": f"Bearer {TOKEN}",
            },
            body={"replyToken": token, "messages": [{"type": "text", "text": "x"}]},
            response_types_map={"200": "ReplyMessageResponse"},
        )
    assert exc.value.status == 400


def test_500_after_accept_still_delivers(base):
    call(base, "POST", "/_emulator/faults", {"rate_500_after_accept": 1.0, "seed": 1})
    key = str(uuid.uuid4())
    with messaging(base) as api:
        with pytest.raises(ApiException) as exc:
            api.push_message(PushMessageRequest(to=USER, messages=text()), x_line_retry_key=key)
        assert exc.value.status == 500
        with pytest.raises(ApiException) as again:
            api.push_message(PushMessageRequest(to=USER, messages=text()), x_line_retry_key=key)
    assert again.value.status == 409
    assert len(call(base, "GET", f"/_emulator/messages?to={USER}")["messages"]) == 1


def test_plain_500_does_not_deliver_and_faults_reset(base):
    call(base, "POST", "/_emulator/faults", {"rate_500": 1.0, "endpoints": ["push"]})
    with messaging(base) as api:
        with pytest.raises(ApiException) as exc:
            api.push_message(PushMessageRequest(to=USER, messages=text()))
        assert exc.value.status == 500
        api.multicast(MulticastRequest(to=[USER], messages=text()))  # not in fault scope
        call(base, "DELETE", "/_emulator/faults")
        api.push_message(PushMessageRequest(to=USER, messages=text()))
    kinds = [m["kind"] for m in call(base, "GET", f"/_emulator/messages?to={USER}")["messages"]]
    assert kinds == ["multicast", "push"]


def test_monthly_limit_is_429(base):
    call(base, "POST", "/_emulator/faults", {"monthly_limit": True})
    with messaging(base) as api, pytest.raises(ApiException) as exc:
        api.push_message(PushMessageRequest(to=USER, messages=text()))
    assert exc.value.status == 429
    assert json.loads(exc.value.body)["message"] == "You have reached your monthly limit."


def test_profile_and_broadcast(base):
    call(base, "POST", "/_emulator/users", {"userId": USER, "displayName": "みどり", "language": "en"})
    with messaging(base) as api:
        profile = api.get_profile(USER)
        assert (profile.display_name, profile.language) == ("みどり", "en")
        with pytest.raises(ApiException) as exc:
            api.get_profile("U" + "9" * 32)
        assert exc.value.status == 404
        api.broadcast(linesim_broadcast())
    assert call(base, "GET", "/_emulator/delivery-counts")["counts"] == {USER: 1}


def linesim_broadcast():
    from linebot.v3.messaging import BroadcastRequest

    return BroadcastRequest(messages=text())


def test_webhook_is_signed_and_parseable(sim):
    base, _state = sim
    received: list[tuple[bytes, str]] = []

    def bot(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received.append((environ["wsgi.input"].read(length), environ.get("HTTP_X_LINE_SIGNATURE", "")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]

    with serve(bot) as bot_url:
        call(base, "POST", "/_emulator/config", {"webhook_url": bot_url + "/callback"})
        out = call(
            base,
            "POST",
            "/_emulator/webhook",
            {"userId": USER, "event": {"type": "message", "message": {"type": "text", "text": "こんにちは"}}},
        )
        follow = call(base, "POST", "/_emulator/webhook", {"userId": USER, "event": {"type": "follow"}})
        again = call(base, "POST", "/_emulator/webhook", {"body": out["body"]})
    assert out["status"] == 200 and follow["status"] == 200 and again["status"] == 200
    parser = WebhookParser(SECRET)
    raw, signature = received[0]
    assert raw.decode() == out["body"] == received[2][0].decode()
    assert signature == linesim.sign(SECRET, raw)
    (event,) = parser.parse(raw.decode(), signature)
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert event.message.text == "こんにちは" and event.source.user_id == USER
    assert event.delivery_context.is_redelivery is False and len(event.webhook_event_id) == 26
    (follow_event,) = parser.parse(received[1][0].decode(), received[1][1])
    assert isinstance(follow_event, FollowEvent) and follow_event.follow.is_unblocked is False
    # The minted reply token works against the Messaging API.
    with messaging(base) as api:
        api.reply_message(ReplyMessageRequest(reply_token=event.reply_token, messages=text()))


def test_make_event_is_parseable_with_sign():
    body = json.dumps(
        {
            "destination": "U" + "0" * 32,
            "events": [
                linesim.make_event(USER, {"type": "postback", "postback": {"data": "a=1"}}),
                linesim.make_event(
                    USER,
                    {
                        "type": "message",
                        "message": {
                            "type": "location",
                            "latitude": 35.6,
                            "longitude": 139.7,
                            "title": "t",
                            "address": "a",
                        },
                    },
                    redelivery=True,
                ),
                linesim.make_event(USER, {"type": "unfollow"}),
            ],
        }
    )
    events = WebhookParser(SECRET).parse(body, linesim.sign(SECRET, body.encode()))
    assert [type(e).__name__ for e in events] == ["PostbackEvent", "MessageEvent", "UnfollowEvent"]
    assert events[1].delivery_context.is_redelivery is True


def test_chat_page_served(base):
    with urllib.request.urlopen(base + "/", timeout=5) as resp:
        html = resp.read().decode()
    assert "みどり区 公式" in html


def _chromium_path() -> str | None:
    import os
    import shutil

    for candidate in (
        os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE"),
        "/usr/lib/chromium/chromium-headless-shell",
        shutil.which("chromium-headless-shell"),
        shutil.which("chromium"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.mark.browser
def test_chat_page_round_trip_in_headless_chromium(sim):
    """Type a message, get the bot's reply with quick replies, tap one (postback), send a location."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium_path()
    base, _state = sim
    parser = WebhookParser(SECRET)
    quick = {
        "items": [
            {
                "type": "action",
                "action": {"type": "postback", "label": "詳しく", "data": "more=1", "displayText": "詳しく知りたい"},
            },
            {"type": "action", "action": {"type": "location", "label": "位置情報を送る"}},
        ]
    }

    def bot(environ, start_response):
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        for event in parser.parse(raw, environ.get("HTTP_X_LINE_SIGNATURE", "")):
            if event.type == "message" and event.message.type == "text":
                reply = {
                    "type": "text",
                    "text": f"受信: {event.message.text}\nhttps://example.jp/",
                    "quickReply": quick,
                }
            elif event.type == "message" and event.message.type == "location":
                reply = {"type": "text", "text": f"緯度 {event.message.latitude}"}
            elif event.type == "postback":
                reply = {
                    "type": "flex",
                    "altText": "詳細",
                    "contents": {
                        "type": "bubble",
                        "body": {
                            "type": "box",
                            "layout": "vertical",
                            "contents": [{"type": "text", "text": f"PB {event.postback.data}"}],
                        },
                    },
                }
            else:
                continue
            req = urllib.request.Request(
                base + "/v2/bot/message/reply",
                method="POST",
                data=json.dumps({"replyToken": event.reply_token, "messages": [reply]}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=5).close()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]

    with serve(bot) as bot_url, sync_api.sync_playwright() as p:
        call(base, "POST", "/_emulator/config", {"webhook_url": bot_url + "/callback"})
        try:
            browser = p.chromium.launch(executable_path=executable)
        except sync_api.Error as exc:  # no browser on this machine
            pytest.skip(f"no headless Chromium: {exc.message.splitlines()[0]}")
        try:
            page = browser.new_page()
            page.goto(base + "/")
            page.fill("#msg-input", "こんにちは")
            page.press("#msg-input", "Enter")
            page.wait_for_selector("text=受信: こんにちは", timeout=5000)
            assert page.locator("a[href='https://example.jp/']").count() == 1
            page.click(".chip >> text=詳しく")
            page.wait_for_selector(".flex-bubble >> text=PB more=1", timeout=5000)
            assert page.locator("[data-testid=user-bubble] >> text=詳しく知りたい").count() == 1
            page.click("#location-btn")
            page.click("#loc-modal .presets >> text=若葉二丁目")
            page.click("#loc-send")
            page.wait_for_selector("text=緯度 35.7079", timeout=5000)
        finally:
            browser.close()


def _bot_replying(base: str, replies: dict[str, list[dict]]):
    """A tiny signed-webhook bot: a text message gets replies[text] (the follow event: replies['follow'])."""
    parser = WebhookParser(SECRET)

    def bot(environ, start_response):
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        for event in parser.parse(raw, environ.get("HTTP_X_LINE_SIGNATURE", "")):
            key = event.message.text if event.type == "message" and event.message.type == "text" else event.type
            if key not in replies:
                continue
            req = urllib.request.Request(
                base + "/v2/bot/message/reply",
                method="POST",
                data=json.dumps({"replyToken": event.reply_token, "messages": replies[key]}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=5).close()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]

    return bot


def _shots(tmp_path: Path) -> Path:
    """docs/screenshots when MADOGUCHI_SCREENSHOTS=1 (as the console's browser tests), else tmp_path."""
    if os.environ.get("MADOGUCHI_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parent.parent / "docs" / "screenshots"
    return tmp_path


def _card(title: str) -> dict:
    return {
        "type": "bubble",
        "size": "mega",
        "header": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "開設"}]},
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": title, "wrap": True}]},
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {"type": "button", "action": {"type": "uri", "label": "ルート", "uri": "https://example.jp/"}}
            ],
        },
    }


@pytest.mark.browser
def test_chat_page_keeps_the_newest_message_and_whole_cards_in_view(sim, tmp_path):
    """The newest message is not hidden under the quick-reply bar, a one-card carousel is not
    clipped, the 📍 button says what it does, presets lie inside the sample ward, and an empty
    chat says to press 友だち追加."""
    sync_api = pytest.importorskip("playwright.sync_api")
    base, _state = sim
    many = [
        {"type": "action", "action": {"type": "message", "label": f"候補{i}", "text": f"候補{i}"}} for i in range(8)
    ]
    long_text = "\n".join(f"{i}行目のお知らせです。" for i in range(30))
    replies = {
        "follow": [{"type": "text", "text": "こんにちは"}],
        "長い": [{"type": "text", "text": long_text, "quickReply": {"items": many}}],
        "一枚": [
            {"type": "text", "text": "泉町の避難所です"},
            {"type": "flex", "altText": "泉小学校", "contents": {"type": "carousel", "contents": [_card("泉小学校")]}},
        ],
    }
    with serve(_bot_replying(base, replies)) as bot_url, sync_api.sync_playwright() as p:
        call(base, "POST", "/_emulator/config", {"webhook_url": bot_url + "/callback"})
        try:
            browser = p.chromium.launch(executable_path=_chromium_path())
        except sync_api.Error as exc:  # no browser on this machine
            pytest.skip(f"no headless Chromium: {exc.message.splitlines()[0]}")
        try:
            page = browser.new_page(viewport={"width": 390, "height": 700})
            page.goto(base + "/")
            hint = page.wait_for_selector("#start-hint", timeout=5000)
            assert "友だち追加" in hint.inner_text()
            page.click("#follow-btn")
            page.wait_for_selector("text=こんにちは", timeout=5000)
            assert page.locator("#start-hint").count() == 0

            label = page.locator("#location-btn").inner_text()
            assert "位置情報" in label
            presets = page.locator("#loc-modal .presets button[data-lat]")
            inside = [
                (float(b.get_attribute("data-lat")), float(b.get_attribute("data-lon")))
                for b in presets.all()
                if "区外" not in b.inner_text()
            ]
            assert len(inside) >= 3
            assert all(35.68 < lat < 35.72 and 139.62 < lon < 139.67 for lat, lon in inside)

            for i in range(3):  # fill the log so that it scrolls
                page.fill("#msg-input", "長い")
                page.press("#msg-input", "Enter")
                page.wait_for_function(
                    f"document.querySelectorAll('[data-testid=bot-message]').length >= {2 + i}", timeout=5000
                )
            page.wait_for_selector(".chip >> text=候補7", timeout=5000)
            page.wait_for_timeout(300)
            last = page.locator("[data-testid=bot-message]").last.bounding_box()
            bar = page.locator("#quick-reply").bounding_box()
            assert last["y"] + last["height"] <= bar["y"] + 1, (last, bar)
            page.screenshot(path=str(_shots(tmp_path) / "simulator_quick_reply.png"))

            page.fill("#msg-input", "一枚")
            page.press("#msg-input", "Enter")
            card = page.wait_for_selector(".flex-bubble >> text=泉小学校", timeout=5000)
            page.wait_for_timeout(300)
            carousel = page.locator(".flex-carousel").last
            clipped = carousel.evaluate("c => c.scrollWidth - c.clientWidth")
            assert clipped <= 1, clipped  # one card fits entirely
            box = card.bounding_box()
            viewport = page.viewport_size
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            newest = page.locator("[data-testid=bot-message]").last.bounding_box()
            footer = page.locator("footer").bounding_box()
            assert newest["y"] + newest["height"] <= footer["y"] + 1
            page.screenshot(path=str(_shots(tmp_path) / "simulator_one_card.png"))
        finally:
            browser.close()
