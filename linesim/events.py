"""Pure helpers for building and signing webhook payloads the way LINE does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import secrets
import time
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Message ids look like LINE's: long decimal strings, unique within the process.
_message_ids = itertools.count(int(time.time() * 1000) * 1000)

# Which event types carry a reply token (unfollow, unsend, leave ... do not).
_REPLYABLE = {"message", "postback", "follow", "join", "memberJoined", "beacon", "accountLink", "things"}


def sign(secret: str, body: bytes) -> str:
    """Return the X-Line-Signature value for a raw body: base64(HMAC-SHA256(secret, body))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def new_ulid() -> str:
    """Return a 26-character ULID (48-bit ms timestamp + 80 random bits, Crockford base32)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_message_id() -> str:
    return str(next(_message_ids))


def new_token() -> str:
    """A reply/quote token: opaque, URL-safe."""
    return secrets.token_hex(16)


def destination_for(secret: str) -> str:
    """A stable bot user id ("U" + 32 hex) derived from the channel secret."""
    return "U" + hashlib.sha256(b"linesim-destination:" + secret.encode("utf-8")).hexdigest()[:32]


def _complete_message(message: dict[str, Any]) -> dict[str, Any]:
    msg = dict(message)
    msg.setdefault("id", new_message_id())
    mtype = msg.setdefault("type", "text")
    if mtype in ("text", "sticker", "image", "video"):
        msg.setdefault("quoteToken", new_token())
    if mtype == "text":
        msg.setdefault("text", "")
    elif mtype == "sticker":
        msg.setdefault("packageId", "446")
        msg.setdefault("stickerId", "1988")
        msg.setdefault("stickerResourceType", "STATIC")
    elif mtype in ("image", "video", "audio"):
        msg.setdefault("contentProvider", {"type": "line"})
        if mtype in ("video", "audio"):
            msg.setdefault("duration", 1000)
    elif mtype == "file":
        msg.setdefault("fileName", "file.txt")
        msg.setdefault("fileSize", 0)
    elif mtype == "location":
        msg.setdefault("latitude", 0.0)
        msg.setdefault("longitude", 0.0)
    return msg


def make_event(
    user_id: str,
    event_dict: dict[str, Any],
    reply_token: str | None = None,
    *,
    redelivery: bool = False,
    webhook_event_id: str | None = None,
    timestamp: int | None = None,
    mode: str = "active",
    is_unblocked: bool = False,
) -> dict[str, Any]:
    """Complete a partial event ({"type": "message", "message": {...}} etc.) as LINE sends it.

    Adds timestamp (ms), mode, source, webhookEventId, deliveryContext, and for replyable
    events a replyToken (a random, unregistered one when ``reply_token`` is None), message id
    and quoteToken, follow.isUnblocked. Fields already present in ``event_dict`` win.
    """
    event = dict(event_dict)
    etype = event.setdefault("type", "message")
    event.setdefault("timestamp", timestamp if timestamp is not None else int(time.time() * 1000))
    event.setdefault("mode", mode)
    event.setdefault("source", {"type": "user", "userId": user_id})
    event.setdefault("webhookEventId", webhook_event_id or new_ulid())
    event.setdefault("deliveryContext", {"isRedelivery": bool(redelivery)})
    # In standby mode (another channel owns the chat) LINE sends message events without a token.
    standby = event["mode"] == "standby" and etype != "follow"
    if etype in _REPLYABLE and "replyToken" not in event and not standby:
        event["replyToken"] = reply_token or new_token()
    if etype == "message":
        event["message"] = _complete_message(event.get("message") or {})
    elif etype == "follow":
        event.setdefault("follow", {"isUnblocked": bool(is_unblocked)})
    elif etype == "postback":
        postback = dict(event.get("postback") or {})
        postback.setdefault("data", "")
        if not postback.get("params"):
            postback.pop("params", None)
        event["postback"] = postback
    return event
