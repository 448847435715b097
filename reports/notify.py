"""Delivering status messages to reporters from the outbox (`report_notices`), exactly once.

Same discipline as the alert worker: a message is claimed with one atomic UPDATE under a
lease; every attempt uses the message's stored X-Line-Retry-Key, so a 5xx or timeout after
LINE accepted it is retried safely (LINE answers 409 = already delivered).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from bot.line_api import LineApi, LineApiError
from store import Store
from store import reports as report_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
LEASE_SECONDS = 60.0


def _messages(raw: list[dict[str, Any]]) -> list[Message]:
    return [TextMessage.from_dict(m) if m.get("type") == "text" else Message.from_dict(m) for m in raw]


def deliver_due(store: Store, line: LineApi, worker_id: str | None = None, backoff_base: float = 2.0) -> int:
    """Send every message due now; returns how many were handled (sent, retried or failed)."""
    db = store.db
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    handled = 0
    while True:
        notice = report_store.claim_notice(db, worker_id, LEASE_SECONDS)
        if notice is None:
            return handled
        handled += 1
        if not notice["user_id"]:  # the resident left meanwhile
            report_store.finish_notice(db, notice["id"], "failed", 0, "reporter unknown")
            continue
        try:
            line.push(notice["user_id"], _messages(notice["messages"]), retry_key=notice["retry_key"])
        except LineApiError as err:
            if err.status == 409:
                report_store.finish_notice(db, notice["id"], "sent", 409)
            elif (err.status in (0, 429) or err.status >= 500) and notice["attempts"] < MAX_ATTEMPTS:
                delay = random.uniform(backoff_base / 2, min(300.0, backoff_base * 2 ** (notice["attempts"] - 1)))
                report_store.retry_notice_later(db, notice["id"], delay, err.status, err.message)
                log.info("report notice %s: %s, retry in %.1fs (same key)", notice["id"], err.status, delay)
            else:
                report_store.finish_notice(db, notice["id"], "failed", err.status, err.message)
                log.warning("report notice %s failed: %s %s", notice["id"], err.status, err.message)
            continue
        report_store.finish_notice(db, notice["id"], "sent", 200)


def run_notifier(
    store: Store,
    line: LineApi,
    stop_event: threading.Event,
    sweep: Any = None,
    idle_sleep: float = 1.0,
    sweep_every: float = 60.0,
) -> None:
    """The delivery worker's second loop: status messages, and now and then `sweep()` (housekeeping)."""
    last_sweep = 0.0
    while not stop_event.is_set():
        try:
            deliver_due(store, line)
            if sweep is not None and time.monotonic() - last_sweep > sweep_every:
                last_sweep = time.monotonic()
                sweep()
        except Exception:  # noqa: BLE001 - the worker keeps running; the next round retries
            log.exception("report notifier round failed")
        stop_event.wait(idle_sleep)
    store.close_thread_connection()
