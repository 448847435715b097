"""HTTP surface of the bot: the LINE webhook and the health check."""

from __future__ import annotations

import json
import logging
import random
import time

from flask import Blueprint, abort, current_app, jsonify, request
from linebot.v3.exceptions import InvalidSignatureError

import bot.handlers  # noqa: F401 - registers the event handlers
from bot import events
from bot.context import Ctx
from bot.language import ProfileLanguageCache, language_for_event
from store import core as core_store

log = logging.getLogger(__name__)
bp = Blueprint("bot", __name__)


def _runtime():
    return current_app.extensions["madoguchi"]


@bp.post("/callback")
def callback():
    """LINE webhook: verify the signature on the raw body, drop redeliveries, handle events."""
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        abort(400, "missing X-Line-Signature")
    body = request.get_data(as_text=True)
    rt = _runtime()
    try:
        parsed = rt.parser.parse(body, signature)
        raw_events = json.loads(body)["events"]
        if not isinstance(raw_events, list):
            raise TypeError("events is not a list")
    except InvalidSignatureError:
        log.warning("webhook with an invalid signature rejected")
        abort(400, "invalid signature")
    except (ValueError, KeyError, TypeError, AttributeError):
        abort(400, "body is not a LINE webhook JSON object")

    db = rt.store.db
    use_inbox = current_app.config["WEBHOOK_ASYNC"]
    items = []
    for raw, event in zip(raw_events, parsed, strict=True):
        event_id = raw.get("webhookEventId") if isinstance(raw, dict) else None
        payload = json.dumps(raw, ensure_ascii=False) if use_inbox and event_id else None
        if event_id and not core_store.claim_event(db, str(event_id), payload=payload):
            log.info("redelivered event dropped")
            continue
        items.append((str(event_id) if event_id else None, raw, event))
    if use_inbox:
        rt.processor.submit(items)
        rt.processor.maybe_recover()
    else:
        rt.processor.run(items)
    _maybe_prune(rt)
    return "OK"


def resolve_language(ctx: Ctx, event) -> str:
    """The reply language for this event (issue F); Japanese if anything goes wrong."""
    if events.event_kind(event) == "unfollow" or not ctx.user_id:
        return ctx.lang
    cache = current_app.extensions.setdefault("madoguchi.profile_langs", ProfileLanguageCache())
    try:
        return language_for_event(ctx, event, cache)
    except Exception:  # noqa: BLE001 - the resident still gets an answer, in Japanese
        log.exception("resolving the language failed (user %s)", ctx.user_hash)
        return ctx.lang


def _maybe_prune(rt) -> None:
    """Apply retention windows now and then (cheap, off the common path)."""
    if random.random() < 0.002:
        cfg = current_app.config
        core_store.prune_events(rt.store.db, cfg["EVENT_ID_RETENTION_DAYS"] * 86400)
        core_store.prune_query_log(rt.store.db, cfg["QUERY_LOG_RETENTION_DAYS"] * 86400)


@bp.get("/healthz")
def healthz():
    rt = _runtime()
    db = rt.store.db
    ok = core_store.database_ok(db)
    version = core_store.published_faq_version(db) if ok else None
    return jsonify(
        status="ok" if ok else "degraded",
        faq_version=version,
        database=ok,
        time=int(time.time()),
    ), (200 if ok else 503)
