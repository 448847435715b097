"""HTTP surface of the bot: the LINE webhook and the health check.

The webhook only acknowledges: size check, signature, JSON shape, dedup + inbox, 200.
Answer workers (bot/answer_worker.py) do everything else.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

import bot.handlers  # noqa: F401 - registers the event handlers
from bot.answer_worker import user_key
from bot.bodylimit import limit_for_request
from bot.runtime import runtime
from store import core as core_store

log = logging.getLogger(__name__)
bp = Blueprint("bot", __name__)

# A JSON \ud800-\udfff escape: only then can json.loads produce a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _read_body() -> bytes:
    """The raw body, never more than the limit (413 before reading when it says it is larger)."""
    limit = limit_for_request()
    length = request.content_length
    if limit is None:
        return request.get_data(cache=False)
    if length is not None and length > limit:
        abort(413, f"body larger than {limit} bytes")
    # Without a length (chunked) read in pieces and stop one byte past the limit: Werkzeug's
    # own read would silently cut such a body at the limit.
    stream = request.stream
    chunks, size = [], 0
    try:
        while size <= limit:
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        size = limit + 1
    if size > limit:
        abort(413, f"body larger than {limit} bytes")
    return b"".join(chunks)


def _without_lone_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (valid JSON escapes, invalid text) with U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_lone_surrogates(v) for k, v in value.items()}
    return value


@bp.post("/callback")
def callback():
    """LINE webhook: verify the signature on the raw body, drop redeliveries, queue the events."""
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        abort(400, "missing X-Line-Signature")
    raw_body = _read_body()
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "body is not UTF-8")
    rt = runtime()
    if not rt.signatures.validate(body, signature):
        log.warning("webhook with an invalid signature rejected")
        abort(400, "invalid signature")
    try:
        raw_events = json.loads(body)["events"]
        if not isinstance(raw_events, list):
            raise TypeError("events is not a list")
    except (ValueError, KeyError, TypeError):
        abort(400, "body is not a LINE webhook JSON object")
    if _SURROGATE_ESCAPE.search(raw_body):
        raw_events = _without_lone_surrogates(raw_events)

    secret = str(current_app.config["SECRET_KEY"])
    items = []
    for raw in raw_events:
        if not isinstance(raw, dict):
            continue
        event_id = raw.get("webhookEventId")
        # LINE always sends an id; without one the event cannot be deduplicated, only queued.
        event_id = str(event_id) if isinstance(event_id, (str, int)) and event_id else f"noid-{uuid.uuid4().hex}"
        source = raw.get("source")
        uid = source.get("userId") if isinstance(source, dict) else None
        key = user_key(uid if isinstance(uid, str) else None, secret)
        items.append((event_id, json.dumps(raw, ensure_ascii=False), key))
    fresh = core_store.record_events(rt.store.db, items) if items else []
    queued = [item[0] for item, new in zip(items, fresh, strict=True) if new]
    if len(queued) < len(items):
        log.info("%d redelivered events dropped", len(items) - len(queued))
    if queued and not current_app.config["WEBHOOK_ASYNC"]:
        rt.answers.answer_now(queued)  # tests and dev only: answered before the 200
    return "OK"


@bp.get("/healthz")
def healthz():
    rt = runtime()
    db = rt.store.db
    ok = core_store.database_ok(db)
    version = core_store.published_faq_version(db) if ok else None
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", "faq_version": version, "database": ok}
    if ok:
        stats = core_store.inbox_stats(db, current_app.config["ANSWER_LEASE_SECONDS"])
        workers = stats.pop("workers")
        states = [w.get("semantic") for w in workers if not w.get("inline")]
        body["answer_workers"] = len(states)
        body["semantic"] = _semantic_summary(states)
        # Since the live workers started: what went out late, expired, was taken over or failed.
        totals: dict[str, int] = {}
        for w in workers:
            for key, n in (w.get("counts") or {}).items():
                if key in ("late", "expired", "taken_over", "failed", "after_unfollow", "retried"):
                    totals[key] = totals.get(key, 0) + int(n)
        stats["since_start"] = totals
        body["inbox"] = stats
    body["time"] = int(time.time())
    return jsonify(body), (200 if ok else 503)


def _semantic_summary(states: list[str | None]) -> str:
    """One word for every live answer worker's semantic stage."""
    if not states:
        return "no_workers"
    if any(s == "embedding" for s in states):
        return "embedding"
    if all(s == "ready" for s in states):
        return "ready"
    if all(s == "off" for s in states):
        return "off"
    return "lexical_only"
