"""Event routing: a table from event kind to a small handler.

A handler takes the `Ctx` and the SDK event and returns the messages to reply with
(or None). The dispatcher replies only when the event has a reply token and the
channel is in `active` mode (in `standby` another channel owns the chat).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from linebot.v3.messaging import Message

from bot.context import Ctx
from bot.line_api import LineApiError

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, Any], "Sequence[Message] | None"]
PostbackHandler = Callable[[Ctx, Any, dict[str, str]], "Sequence[Message] | None"]

_HANDLERS: dict[str, Handler] = {}
_POSTBACKS: dict[str, PostbackHandler] = {}


def on(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of an event kind: `follow`, `unfollow`, `message:text`, `message:location`, …"""

    def deco(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return deco


def on_postback(action: str) -> Callable[[PostbackHandler], PostbackHandler]:
    """Register the handler of postbacks whose data has `a=<action>`."""

    def deco(fn: PostbackHandler) -> PostbackHandler:
        _POSTBACKS[action] = fn
        return fn

    return deco


def postback_data(**fields: object) -> str:
    """Encode postback data (LINE allows 300 characters)."""
    from urllib.parse import urlencode

    data = urlencode({k: v for k, v in fields.items() if v is not None})
    if len(data) > 300:
        raise ValueError("postback data longer than 300 characters")
    return data


def event_kind(event: Any) -> str:
    etype = getattr(event, "type", None) or "unknown"
    if etype == "message":
        return f"message:{getattr(event.message, 'type', 'unknown')}"
    return etype


def user_id_of(event: Any) -> str | None:
    source = getattr(event, "source", None)
    return getattr(source, "user_id", None) if source is not None else None


@on("postback")
def _postback(ctx: Ctx, event: Any) -> Sequence[Message] | None:
    raw = event.postback.data or ""
    fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    handler = _POSTBACKS.get(fields.get("a", ""))
    if handler is None:
        log.info("postback with unknown action ignored")
        return None
    return handler(ctx, event, fields)


def _push_instead(ctx: Ctx, messages: list[Message]) -> None:
    """A recovered event whose reply token expired: push, keyed by the event id (never twice)."""
    retry_key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"madoguchi:event:{ctx.extra['event_id']}"))
    try:
        ctx.line.push(ctx.user_id, messages, retry_key=retry_key)
    except LineApiError as err:
        if err.status != 409:  # 409: LINE already accepted this push
            log.warning("push for a recovered event failed: %s %s", err.status, err.message)


def dispatch(ctx: Ctx, event: Any) -> None:
    """Handle one event; failures are logged (without message text) and never raised."""
    kind = event_kind(event)
    handler = _HANDLERS.get(kind) or _HANDLERS.get(kind.split(":")[0] + ":*")
    started = time.perf_counter()
    if handler is None:
        log.debug("event %s ignored", kind)
        return
    try:
        messages = handler(ctx, event)
    except Exception:  # noqa: BLE001 - one bad event must not fail the webhook
        log.exception("handler for %s failed (user %s)", kind, ctx.user_hash)
        messages = None
        from linebot.v3.messaging import TextMessage

        from bot.i18n import t

        if getattr(event, "reply_token", None):
            messages = [TextMessage(text=t("error", ctx.lang))]
    reply_token = getattr(event, "reply_token", None)
    mode = getattr(event, "mode", "active")
    mode = getattr(mode, "value", mode)
    if messages and reply_token and mode == "active":
        try:
            ctx.line.reply(reply_token, list(messages)[:5])
        except LineApiError as err:
            # e.g. the console's "Verify" dummy token, or an expired token.
            log.warning("reply for %s failed: %s %s", kind, err.status, err.message)
            if ctx.extra.get("recovered") and ctx.user_id and ctx.extra.get("event_id"):
                _push_instead(ctx, list(messages)[:5])
    log.info("event %s user=%s handled in %.1f ms", kind, ctx.user_hash, (time.perf_counter() - started) * 1000)
