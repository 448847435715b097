"""Send what features queued in the shared outbox (store.outbox), exactly once per recipient.

The same discipline as the alert worker: a batch is claimed with one atomic UPDATE under a
lease; every attempt uses the batch's stored X-Line-Retry-Key, so a 5xx or timeout after LINE
accepted it is retried safely (LINE then answers 409 = already accepted); 429 and 5xx back off
exponentially with jitter; a 429 saying the monthly limit is reached stops that survey's or
reply's remaining batches (not transient) instead of retrying all month. A batch of one user
goes as a push, larger ones as a multicast.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from common.delivery import Failed, RateLimiter, Retry, Sent, Stop, backoff_delay, decide_retry, keep_lease
from common.line_api import LineApi, LineApiError
from store import Store
from store import outbox as store
from store.vocab import DeliveryState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 40
# Short and renewed while the batch is in flight: a dead worker's batch is retried within seconds.
LEASE_SECONDS = 10.0
QUOTA_MESSAGE = "LINE の今月の送信上限に達したため、送信を止めました。上限が戻ってから送り直してください。"


def _messages(raw: list[dict[str, Any]]) -> list[Message]:
    return [TextMessage.from_dict(m) if m.get("type") == "text" else Message.from_dict(m) for m in raw]


def send_one(db, line: LineApi, batch: dict[str, Any], backoff_base: float = 1.0) -> str:
    """Send one claimed batch; returns sent | retry | failed | stopped."""
    users = store.recipients(db, batch["id"])
    if not users:  # everyone in it unfollowed meanwhile
        store.finish(db, batch["id"], DeliveryState.SENT, 204)
        return DeliveryState.SENT
    try:
        if len(users) == 1:
            line.push(users[0], _messages(batch["messages"]), retry_key=batch["retry_key"])
        else:
            line.multicast(users, _messages(batch["messages"]), batch["retry_key"])
    except LineApiError as err:
        return _settle(db, batch, err, backoff_base)
    store.finish(db, batch["id"], DeliveryState.SENT, 200)
    return DeliveryState.SENT


def _settle(db, batch: dict[str, Any], err: LineApiError, backoff_base: float) -> str:
    """Record what LINE's error means for the batch (see `common.delivery.decide_retry`)."""
    decision = decide_retry(err.status, batch["attempts"], err.message, max_attempts=MAX_ATTEMPTS)
    if isinstance(decision, Sent):  # an earlier attempt with this key was accepted
        store.finish(db, batch["id"], DeliveryState.SENT, decision.status)
        return DeliveryState.SENT
    if isinstance(decision, Stop):
        store.stop_kind(db, batch["kind"], batch["ref"], QUOTA_MESSAGE)
        log.error("outbox %s %s stopped: monthly message limit", batch["kind"], batch["ref"])
        return DeliveryState.STOPPED
    if isinstance(decision, Retry):
        delay = backoff_delay(batch["attempts"], backoff_base, 60.0)
        store.retry_later(db, batch["id"], delay, err.status, err.message)
        return "retry"
    assert isinstance(decision, Failed)
    store.finish(db, batch["id"], DeliveryState.FAILED, err.status, err.message)
    log.warning("outbox %s %s batch %s failed: %s", batch["kind"], batch["ref"], batch["id"], err.status)
    return DeliveryState.FAILED


def deliver_due(store_: Store, line: LineApi, worker_id: str | None = None, backoff_base: float = 1.0) -> int:
    """Send everything due now (tests, `--once`); returns how many batches were handled."""
    db = store_.db
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    handled = 0
    while (batch := store.claim(db, worker_id, LEASE_SECONDS)) is not None:
        with keep_lease(
            partial(store.renew_lease, store_.db, batch["id"], worker_id, LEASE_SECONDS), LEASE_SECONDS, store_
        ):
            send_one(db, line, batch, backoff_base)
        handled += 1
    return handled


def run(
    store_: Store,
    line: LineApi,
    stop_event: threading.Event,
    rate_limit_rps: float | None = 100.0,
    idle_sleep: float = 0.3,
    sweep: Callable[[], Any] | None = None,
) -> None:
    """The sender loop (a thread of the delivery worker); `sweep` runs when idle (deadlines)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:outbox"
    limiter = RateLimiter(rate_limit_rps)
    while not stop_event.is_set():
        try:
            db = store_.db
            batch = store.claim(db, worker_id, LEASE_SECONDS)
            if batch is None:
                if sweep is not None:
                    sweep()
                due = store.next_due(db)
                wait = idle_sleep if due is None else min(idle_sleep, max(0.01, due - time.time()))
                stop_event.wait(wait)
                continue
            limiter.wait(stop_event)
            with keep_lease(
                partial(store.renew_lease, store_.db, batch["id"], worker_id, LEASE_SECONDS), LEASE_SECONDS, store_
            ):
                send_one(db, line, batch)
        except Exception:  # the delivery worker must keep running (database restart, …)
            log.exception("outbox sender: will retry")
            stop_event.wait(1.0)
    store_.close_thread_connection()
