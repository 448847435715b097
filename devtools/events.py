"""LINE webhook events as LINE sends them, signed with the channel secret, for tests and benches."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

SECRET = "test-channel-secret"
TOKEN = "test-access-token"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def make_event(
    kind: str, user_id: str, reply_token: str | None = None, event_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """An event with every field LINE sends (the SDK drops events missing required ones)."""
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": 1700000000000,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        **fields,
    }
    if reply_token:
        event["replyToken"] = reply_token
    return event


def text_event(user_id: str, text: str, reply_token: str, event_id: str | None = None) -> dict[str, Any]:
    return make_event(
        "message", user_id, reply_token, event_id, message={"id": "1", "type": "text", "text": text, "quoteToken": "q"}
    )


def postback_event(user_id: str, data: str, reply_token: str) -> dict[str, Any]:
    return make_event("postback", user_id, reply_token, postback={"data": data})


def image_event(user: str, token: str, message_id: str, kind: str = "image") -> dict[str, Any]:
    message: dict[str, Any] = {"id": message_id, "type": kind, "contentProvider": {"type": "line"}}
    if kind in ("image", "video"):
        message["quoteToken"] = "q"
    if kind == "video":
        message["duration"] = 1000
    if kind == "file":
        message = {"id": message_id, "type": "file", "fileName": "report.pdf", "fileSize": 1234}
    return make_event("message", user, token, message=message)


def location_event(user: str, token: str, lat: float, lon: float, address: str = "東京都みどり区") -> dict[str, Any]:
    return make_event(
        "message",
        user,
        token,
        message={
            "id": "9",
            "type": "location",
            "title": "位置情報",
            "address": address,
            "latitude": lat,
            "longitude": lon,
        },
    )


def webhook_body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"destination": "Ubot", "events": events}, ensure_ascii=False).encode()


def post_events(client, events: list[dict[str, Any]], secret: str = SECRET):
    """POST the events to /callback as LINE would (signed); `client` is a Flask test client."""
    body = webhook_body(events)
    return client.post(
        "/callback", data=body, headers={"X-Line-Signature": sign(body, secret), "Content-Type": "application/json"}
    )
