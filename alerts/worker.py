"""The delivery worker: takes outbox batches and multicasts them, exactly once per recipient.

- A batch is claimed with one atomic UPDATE under a lease (store.alerts.claim_batch), so two
  workers never hold the same batch. The lease is short and renewed every third of it while
  the batch is in flight (a heartbeat thread), so a worker killed mid-send leaves a lease that
  expires within seconds and another worker (any process, any host) takes the batch over.
- A database that is briefly unreachable (PostgreSQL restart) pauses the loop; it reconnects
  and carries on. A batch whose result could not be recorded is retried under its key.
- Every attempt of a batch uses the batch's stored X-Line-Retry-Key. A 5xx or timeout may
  still have delivered: the retry with the same key gets 409, which counts as delivered.
- 429 and 5xx/timeouts are retried with exponential backoff (with jitter); a 429 saying the
  monthly limit is reached stops the alert and records a plain message for the operator.
- A client-side rate limit (requests per second, per process) keeps under LINE's limit.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from bot.line_api import LineApi, LineApiError
from store import Store, StoreUnavailable
from store import alerts as alert_store

log = logging.getLogger(__name__)

DEFAULT_RPS = 100.0
# Short, because it is renewed while a batch is in flight: a dead worker's batch waits at most this.
DEFAULT_LEASE_SECONDS = 10.0
MAX_ATTEMPTS = 60


class RateLimiter:
    """Evenly spaced requests: at most `rps` starts in any one-second window."""

    def __init__(self, rps: float | None):
        self.interval = 1.0 / rps if rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stop_event: threading.Event | None = None) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - time.monotonic()
        if delay > 0:
            if stop_event is not None:
                stop_event.wait(delay)
            else:
                time.sleep(delay)


def _to_messages(raw: list[dict[str, Any]]) -> list[Message]:
    out: list[Message] = []
    for m in raw:
        if m.get("type") == "text":
            out.append(TextMessage.from_dict(m))
        else:
            out.append(Message.from_dict(m))
    return out


@contextmanager
def keep_lease(renew: Callable[[], Any], lease_seconds: float, store: Store | None = None) -> Iterator[None]:
    """Call `renew` every third of the lease while the block runs (one batch in flight).

    `store`: its connection of the renewing thread is closed at the end (SQLite opens one per thread).
    """
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease_seconds / 3):
            try:
                renew()
            except StoreUnavailable as err:  # the lease may lapse; the batch is retried under its key
                log.warning("could not renew a lease: %s", err)
        if store is not None:
            store.close_thread_connection()

    th = threading.Thread(target=beat, name="lease-renewal", daemon=True)
    th.start()
    try:
        yield
    finally:
        done.set()
        th.join()


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempt 1 → up to `base` seconds)."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1)))


def run_worker(
    store: Store,
    line: LineApi,
    stop_event: threading.Event | None = None,
    once: bool = False,
    rate_limit_rps: float | None = DEFAULT_RPS,
    *,
    alert_id: int | None = None,
    worker_id: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    backoff_base: float = 1.0,
    backoff_max: float = 30.0,
    idle_sleep: float = 0.5,
    concurrency: int = 1,
    on_progress: Callable[[int, str], None] | None = None,
) -> dict[str, int]:
    """Send due batches until stopped (or, with `once`, until no work is left).

    With `alert_id` only that alert's batches are taken and `once` waits for batches in
    backoff or held under another worker's lease, so `alert send ID` returns when the alert
    is done (or stopped). `on_progress(n_recipients, outcome)` is called per finished batch.
    Returns counters: batches, sent, failed, retries.
    """
    stop_event = stop_event or threading.Event()
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    limiter = RateLimiter(rate_limit_rps)
    stats = {"batches": 0, "sent": 0, "failed": 0, "retries": 0, "stopped": 0}
    lock = threading.Lock()
    texts_cache: dict[int, dict[str, list[Message]]] = {}
    inflight: dict[int, str] = {}  # batch id -> the claiming thread's worker id
    done = threading.Event()

    def heartbeat() -> None:
        """Renew the leases of the batches in flight until the loops end."""
        db = store.db
        while not done.wait(lease_seconds / 3):
            with lock:
                held = dict(inflight)
            for bid, wid in held.items():
                try:
                    alert_store.renew_lease(db, bid, wid, lease_seconds)
                except StoreUnavailable as err:  # the lease may lapse; the batch is retried under its key
                    log.warning("could not renew the lease of batch %s: %s", bid, err)
        store.close_thread_connection()

    def count(key: str, n: int = 1) -> None:
        with lock:
            stats[key] += n

    def progress(n: int, outcome: str) -> None:
        if on_progress is not None:
            with lock:
                on_progress(n, outcome)

    def messages_for(db, aid: int, lang: str) -> list[Message]:
        cached = texts_cache.get(aid)
        if cached is None:
            cached = {k: _to_messages(v) for k, v in alert_store.alert_texts(db, aid).items()}
            texts_cache[aid] = cached
        return cached[lang]

    def send_one(db, batch: dict[str, Any]) -> None:
        bid, aid = batch["id"], batch["alert_id"]
        recipients = alert_store.batch_recipients(db, bid)
        if not recipients:  # everyone in it unfollowed meanwhile
            alert_store.mark_batch_sent(db, bid, aid, None, 204)
            progress(batch["n"], "sent")
            return
        limiter.wait(stop_event)
        try:
            # A batch with its own messages (per-area shelters) sends exactly those, on every attempt.
            messages = (
                _to_messages(batch["messages"]) if batch.get("messages") else messages_for(db, aid, batch["text_lang"])
            )
            request_id = line.multicast(recipients, messages, batch["retry_key"])
        except LineApiError as err:
            if err.is_monthly_limit:
                from alerts.service import QUOTA_MESSAGE

                alert_store.stop_alert(db, aid, QUOTA_MESSAGE, bid)
                log.error("alert %s stopped: monthly message limit reached", aid)
                count("stopped")
                return
            if err.status == 409:  # key already accepted (without the accepted-id header)
                alert_store.mark_batch_sent(db, bid, aid, None, 409)
                count("sent", len(recipients))
                progress(batch["n"], "sent")
                return
            if err.status in (429, 0) or err.status >= 500:
                if batch["attempts"] >= MAX_ATTEMPTS:
                    alert_store.fail_batch(
                        db, bid, aid, err.status, f"gave up after {batch['attempts']} attempts: {err.message}"
                    )
                    count("failed", len(recipients))
                    progress(batch["n"], "failed")
                    return
                delay = backoff_delay(batch["attempts"], backoff_base, backoff_max)
                alert_store.retry_batch_later(db, bid, delay, err.status, err.message)
                log.info("alert %s batch %s: %s, retry in %.2fs (same key)", aid, bid, err.status, delay)
                count("retries")
                return
            alert_store.fail_batch(db, bid, aid, err.status, err.message)
            log.error("alert %s batch %s failed permanently: %s %s", aid, bid, err.status, err.message)
            count("failed", len(recipients))
            progress(batch["n"], "failed")
            return
        alert_store.mark_batch_sent(db, bid, aid, request_id, 409 if request_id is None else 200)
        count("sent", len(recipients))
        count("batches")
        progress(batch["n"], "sent")

    def loop(suffix: str) -> None:
        db = store.db
        wid = f"{worker_id}/{suffix}"
        while not stop_event.is_set():
            batch = alert_store.claim_batch(db, wid, lease_seconds, alert_id=alert_id)
            if batch is None:
                from alerts.service import EXPIRED_MESSAGE

                for aid in alert_store.expire_overdue(db, EXPIRED_MESSAGE):
                    log.warning("alert %s expired before every batch was sent: the rest is withdrawn", aid)
                due = alert_store.next_due(db, alert_id)
                if once and due is None:
                    return
                wait = idle_sleep if due is None else min(idle_sleep, max(0.01, due - time.time()))
                stop_event.wait(wait)
                continue
            with lock:
                inflight[batch["id"]] = wid
            try:
                send_one(db, batch)
            finally:
                with lock:
                    inflight.pop(batch["id"], None)
        store.close_thread_connection()

    def guarded_loop(suffix: str) -> None:
        while not stop_event.is_set():
            try:
                loop(suffix)
                return
            except StoreUnavailable as err:
                # Reconnect after a pause; a batch in flight keeps its key and its lease lapses.
                log.warning("delivery worker: database unavailable (%s), retrying in 1s", err)
                stop_event.wait(1.0)

    beat = threading.Thread(target=heartbeat, name="lease-heartbeat", daemon=True)
    beat.start()
    try:
        if concurrency <= 1:
            guarded_loop("0")
        else:
            threads = [threading.Thread(target=guarded_loop, args=(str(i),), daemon=True) for i in range(concurrency)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
    finally:
        done.set()
        beat.join()
    return stats
