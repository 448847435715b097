"""Event routing: a table from event kind to a small handler, and sending the answer.

A handler takes the `Ctx` and the SDK event and returns the messages to answer with
(or None). `deliver` replies while the reply token is fresh and pushes (keyed by the
event id, so never twice) once it is not; nothing is sent in `standby` mode (another
channel owns the chat).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from linebot.v3.messaging import Message, TextMessage

from bot.context import Ctx
from common.i18n import t
from common.line_api import LineApiError
from store import StoreUnavailable

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
        # An event the SDK could not parse (UnknownEvent) has no message attribute.
        return f"message:{getattr(getattr(event, 'message', None), 'type', None) or 'unknown'}"
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


def retry_key_for(event_id: str) -> str:
    """The X-Line-Retry-Key of the one push an event may cause (LINE answers 409 to a second)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"madoguchi:event:{event_id}"))


def answer(ctx: Ctx, event: Any) -> list[Message] | None:
    """The messages the handler of this event answers with; never raises."""
    kind = event_kind(event)
    handler = _HANDLERS.get(kind) or _HANDLERS.get(kind.split(":")[0] + ":*")
    if handler is None:
        log.debug("event %s ignored", kind)
        return None
    try:
        messages = handler(ctx, event)
    except StoreUnavailable:
        raise  # the database is restarting: the event is answered again once it is back
    except Exception:  # one bad event must not stop the others
        log.exception("handler for %s failed (user %s)", kind, ctx.user_hash)
        return [TextMessage(text=t("error", ctx.lang))] if getattr(event, "reply_token", None) else None
    return list(messages) if messages else None


def with_late_note(messages: list[Message], lang: str) -> list[Message]:
    """Put 「お待たせしました」 ahead of an answer that comes late (LINE allows 5 messages)."""
    note = t("late_note", lang)
    if len(messages) < 5:
        return [TextMessage(text=note), *messages]
    first = messages[0]
    if isinstance(first, TextMessage) and len(first.text) + len(note) < 4900:
        return [first.model_copy(update={"text": note + "\n\n" + first.text}), *messages[1:]]
    return messages


def deliver(ctx: Ctx, reply_token: str | None, mode: str, messages: Sequence[Message] | None) -> str:
    """Send an event's answer: reply while the token is fresh, else push; returns how.

    ctx.extra may carry: ``age`` (seconds since the webhook was acknowledged), ``event_id``,
    ``send_via`` (a previous owner of the event died while sending that way: repeat exactly
    that call, so a used reply token or the push's retry key stops a second answer) and
    ``mark_sending`` (a callable recording the intent, False when the event was taken over).
    """
    if not messages or mode != "active":
        return "none"
    cfg = ctx.config
    age = float(ctx.extra.get("age") or 0.0)
    late = age > float(cfg.get("ANSWER_LATE_SECONDS", 20))
    msgs = list(messages)[:5]
    note = ctx.extra.get("late_note", True)
    if late and note:
        msgs = with_late_note(msgs, ctx.lang)[:5]
    prior = ctx.extra.get("send_via")
    event_id = ctx.extra.get("event_id")
    can_push = bool(ctx.user_id and event_id)
    fresh = reply_token and age <= float(cfg.get("REPLY_TOKEN_SECONDS", 50))
    via = prior or ("reply" if fresh or not can_push else "push")
    if (via == "reply" and not reply_token) or (via == "push" and not can_push):
        return "none"
    mark = ctx.extra.get("mark_sending")
    if mark is not None and not mark(via):
        log.warning("event taken over by another worker before sending; not answering twice")
        return "lost"
    if via == "reply":
        err = _reply(ctx, reply_token, msgs)
        if err is None:
            return "reply"
        if prior == "reply":
            # The previous owner most likely used this token before it died.
            log.info("reply token already used after a takeover: treated as answered")
            return "reply"
        if not (late and can_push and err.status == 400):
            # e.g. the console's "Verify" dummy token
            log.warning("reply failed: %s %s", err.status, err.message)
            return "failed"
        if mark is not None and not mark("push"):
            return "lost"
        if not late and note:
            msgs = with_late_note(msgs, ctx.lang)[:5]
    return "push" if _push(ctx, msgs) else "failed"


def _reply(ctx: Ctx, reply_token: str, msgs: list[Message]) -> LineApiError | None:
    """Reply; a 5xx or timeout may have delivered, so it is retried once: a 400 then means it did."""
    try:
        ctx.line.reply(reply_token, msgs)
        return None
    except LineApiError as err:
        if err.status not in (0, 429) and err.status < 500:
            return err
    time.sleep(0.3)
    try:
        ctx.line.reply(reply_token, msgs)
        return None
    except LineApiError as err:
        if err.status == 400:
            log.info("reply retried after a server error: token used, treated as answered")
            return None
        return err


def _push(ctx: Ctx, msgs: list[Message]) -> bool:
    key = retry_key_for(ctx.extra["event_id"])
    for attempt in range(3):
        try:
            ctx.line.push(ctx.user_id, msgs, retry_key=key)
            return True
        except LineApiError as err:
            if err.status == 409:  # LINE already accepted this push
                return True
            if err.status not in (0, 429) and err.status < 500:
                log.warning("push failed: %s %s", err.status, err.message)
                return False
            time.sleep(0.5 * (attempt + 1))
    log.warning("push failed after retries")
    return False


def dispatch(ctx: Ctx, event: Any) -> str:
    """Answer one event and send the answer; failures are logged (without message text), never raised."""
    started = time.perf_counter()
    messages = answer(ctx, event)
    mode = getattr(event, "mode", "active")
    mode = getattr(mode, "value", mode)
    how = deliver(ctx, getattr(event, "reply_token", None), mode, messages)
    log.info(
        "event %s user=%s handled (%s) in %.1f ms",
        event_kind(event),
        ctx.user_hash,
        how,
        (time.perf_counter() - started) * 1000,
    )
    return how
