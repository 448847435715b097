"""Asynchronous webhook processing: acknowledge fast, answer from a small thread pool.

The request thread only verifies the signature, records each event in the inbox
(`processed_events`, 'queued' with its payload — which also drops redeliveries) and hands
the events to a per-process pool. A handler marks its event done and erases the payload.
If a process dies in between, another one reclaims the queued event after
`WEBHOOK_RECLAIM_SECONDS` and answers it (by push when the reply token has expired,
with a retry key derived from the event id so LINE never delivers it twice).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from linebot.v3.webhook import UnknownEvent
from linebot.v3.webhooks import Event

from bot import events
from bot.context import Ctx
from store import core as core_store

log = logging.getLogger(__name__)

Item = tuple[str | None, dict[str, Any], Any]  # (webhookEventId, raw event, parsed SDK event)


def parse_event(raw: dict[str, Any]) -> Any:
    """One raw event → the SDK model (UnknownEvent when the SDK does not know it), as WebhookParser does."""
    try:
        return Event.from_dict(raw)
    except ValueError:
        return UnknownEvent.new_from_json_dict(raw)


class EventProcessor:
    def __init__(self, app: Flask, threads: int, max_queue: int = 500):
        self.app = app
        self.threads = threads
        self.max_queue = max_queue
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._pending = 0
        self._last_recover = 0.0

    def _executor(self) -> ThreadPoolExecutor:
        # A pool created before a fork is useless in the child: make one per process.
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhook")
                    self._pid = os.getpid()
                    self._pending = 0
        return self._pool

    def submit(self, items: list[Item]) -> None:
        """Handle one webhook's events in order, off the request (inline when the pool is saturated)."""
        if not items:
            return
        if self._pending >= self.max_queue:
            log.warning("event pool saturated (%d pending): handling inline", self._pending)
            self.run(items)
            return
        with self._lock:
            self._pending += 1
        self._executor().submit(self._run_counted, items)

    def _run_counted(self, items: list[Item]) -> None:
        try:
            with self.app.app_context():
                self.run(items)
        finally:
            with self._lock:
                self._pending -= 1

    @property
    def busy(self) -> bool:
        """More webhooks waiting than threads to answer them: a burst is queueing up."""
        return self._pending > self.threads

    def run(self, items: list[Item], recovered: bool = False) -> None:
        for event_id, _raw, event in items:
            try:
                handle(self.app, event_id, event, recovered=recovered, busy=self.busy)
            except Exception:  # noqa: BLE001 - never lose the rest of the batch
                log.exception("event handling crashed")

    def maybe_recover(self) -> None:
        """Now and then, take over events another process acknowledged but never answered."""
        now = time.monotonic()
        if now - self._last_recover < self.app.config["WEBHOOK_RECLAIM_SECONDS"] / 2:
            return
        self._last_recover = now
        self._executor().submit(self._recover_in_context)

    def _recover_in_context(self) -> None:
        with self.app.app_context():
            self.recover()

    def recover(self) -> int:
        rt = self.app.extensions["madoguchi"]
        stale = core_store.reclaim_stale_events(rt.store.db, self.app.config["WEBHOOK_RECLAIM_SECONDS"])
        for event_id, payload, _received in stale:
            raw = json.loads(payload) if payload else {}
            log.warning("recovering an event left unanswered by another process")
            self.run([(event_id, raw, parse_event(raw))], recovered=True)
        return len(stale)


def handle(app: Flask, event_id: str | None, event: Any, recovered: bool = False, busy: bool = False) -> None:
    """Build the context for one event, dispatch it, and close it in the inbox.

    ``busy``: the answer pool has a backlog; handlers may trade a little quality for speed.
    """
    from bot.routes import resolve_language

    rt = app.extensions["madoguchi"]
    ctx = Ctx(config=app.config, store=rt.store, line=rt.line, faq=rt.faq, user_id=events.user_id_of(event))
    ctx.extra["event_id"] = event_id
    ctx.extra["recovered"] = recovered
    ctx.extra["busy"] = busy
    ctx.lang = resolve_language(ctx, event)
    events.dispatch(ctx, event)
    if event_id:
        core_store.finish_event(rt.store.db, event_id)
