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
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from alerts.errors import EXPIRED_MESSAGE, QUOTA_MESSAGE
from common.delivery import Failed, RateLimiter, Retry, Sent, Stop, backoff_delay, decide_retry, keep_lease
from common.line_api import LineApi, LineApiError
from store import Store, StoreUnavailable
from store import alerts as alert_store
from store.vocab import DeliveryState

__all__ = ["DeliveryWorker", "RateLimiter", "backoff_delay", "keep_lease", "run_worker"]

log = logging.getLogger(__name__)

DEFAULT_RPS = 100.0
# Short, because it is renewed while a batch is in flight: a dead worker's batch waits at most this.
DEFAULT_LEASE_SECONDS = 10.0
MAX_ATTEMPTS = 60


def _to_messages(raw: list[dict[str, Any]]) -> list[Message]:
    out: list[Message] = []
    for m in raw:
        if m.get("type") == "text":
            out.append(TextMessage.from_dict(m))
        else:
            out.append(Message.from_dict(m))
    return out


class DeliveryWorker:
    """Sends due batches with `concurrency` loops sharing one lease heartbeat and one rate limit."""

    def __init__(
        self,
        store: Store,
        line: LineApi,
        stop_event: threading.Event | None = None,
        rate_limit_rps: float | None = DEFAULT_RPS,
        *,
        alert_id: int | None = None,
        worker_id: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        idle_sleep: float = 0.5,
        on_progress: Callable[[int, str], None] | None = None,
    ) -> None:
        self.store, self.line = store, line
        self.stop_event = stop_event or threading.Event()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.alert_id = alert_id
        self.lease_seconds = lease_seconds
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.idle_sleep = idle_sleep
        self.on_progress = on_progress
        self.limiter = RateLimiter(rate_limit_rps)
        self.stats = {
            "batches": 0,
            DeliveryState.SENT: 0,
            DeliveryState.FAILED: 0,
            "retries": 0,
            DeliveryState.STOPPED: 0,
        }
        self._lock = threading.Lock()
        self._texts: dict[int, dict[str, list[Message]]] = {}
        self._inflight: dict[int, str] = {}  # batch id -> the claiming thread's worker id
        self._done = threading.Event()

    def run(self, once: bool = False, concurrency: int = 1) -> dict[str, int]:
        beat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        beat.start()
        try:
            if concurrency <= 1:
                self._guarded_loop("0", once)
            else:
                threads = [
                    threading.Thread(target=self._guarded_loop, args=(str(i), once), daemon=True)
                    for i in range(concurrency)
                ]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
        finally:
            self._done.set()
            beat.join()
        return self.stats

    def _heartbeat(self) -> None:
        """Renew the leases of the batches in flight until the loops end."""
        db = self.store.db
        while not self._done.wait(self.lease_seconds / 3):
            with self._lock:
                held = dict(self._inflight)
            for bid, wid in held.items():
                try:
                    alert_store.renew_lease(db, bid, wid, self.lease_seconds)
                except StoreUnavailable as err:  # the lease may lapse; the batch is retried under its key
                    log.warning("could not renew the lease of batch %s: %s", bid, err)
        self.store.close_thread_connection()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def _progress(self, n: int, outcome: str) -> None:
        if self.on_progress is not None:
            with self._lock:
                self.on_progress(n, outcome)

    def _messages_for(self, db, aid: int, lang: str) -> list[Message]:
        cached = self._texts.get(aid)
        if cached is None:
            cached = {k: _to_messages(v) for k, v in alert_store.alert_texts(db, aid).items()}
            self._texts[aid] = cached
        return cached[lang]

    def send_one(self, db, batch: dict[str, Any]) -> None:
        bid, aid = batch["id"], batch["alert_id"]
        recipients = alert_store.batch_recipients(db, bid)
        if not recipients:  # everyone in it unfollowed meanwhile
            alert_store.mark_batch_sent(db, bid, aid, None, 204)
            self._progress(batch["n"], DeliveryState.SENT)
            return
        self.limiter.wait(self.stop_event)
        try:
            # A batch with its own messages (per-area shelters) sends exactly those, on every attempt.
            messages = (
                _to_messages(batch["messages"])
                if batch.get("messages")
                else self._messages_for(db, aid, batch["text_lang"])
            )
            request_id = self.line.multicast(recipients, messages, batch["retry_key"])
        except LineApiError as err:
            self._settle(db, batch, len(recipients), err)
            return
        alert_store.mark_batch_sent(db, bid, aid, request_id, 409 if request_id is None else 200)
        self._count(DeliveryState.SENT, len(recipients))
        self._count("batches")
        self._progress(batch["n"], DeliveryState.SENT)

    def _settle(self, db, batch: dict[str, Any], n_recipients: int, err: LineApiError) -> None:
        """Record what LINE's error means for the batch (see `common.delivery.decide_retry`)."""
        bid, aid = batch["id"], batch["alert_id"]
        decision = decide_retry(err.status, batch["attempts"], err.message, max_attempts=MAX_ATTEMPTS)
        if isinstance(decision, Stop):
            alert_store.stop_alert(db, aid, QUOTA_MESSAGE, bid)
            log.error("alert %s stopped: monthly message limit reached", aid)
            self._count(DeliveryState.STOPPED)
        elif isinstance(decision, Sent):  # key already accepted (without the accepted-id header)
            alert_store.mark_batch_sent(db, bid, aid, None, decision.status)
            self._count(DeliveryState.SENT, n_recipients)
            self._progress(batch["n"], DeliveryState.SENT)
        elif isinstance(decision, Retry):
            delay = backoff_delay(batch["attempts"], self.backoff_base, self.backoff_max)
            alert_store.retry_batch_later(db, bid, delay, err.status, err.message)
            log.info("alert %s batch %s: %s, retry in %.2fs (same key)", aid, bid, err.status, delay)
            self._count("retries")
        elif isinstance(decision, Failed):
            alert_store.fail_batch(db, bid, aid, err.status, decision.reason)
            if not decision.gave_up:
                log.error("alert %s batch %s failed permanently: %s %s", aid, bid, err.status, err.message)
            self._count(DeliveryState.FAILED, n_recipients)
            self._progress(batch["n"], DeliveryState.FAILED)

    def _loop(self, suffix: str, once: bool) -> None:
        db = self.store.db
        wid = f"{self.worker_id}/{suffix}"
        while not self.stop_event.is_set():
            batch = alert_store.claim_batch(db, wid, self.lease_seconds, alert_id=self.alert_id)
            if batch is None:
                for aid in alert_store.expire_overdue(db, EXPIRED_MESSAGE):
                    log.warning("alert %s expired before every batch was sent: the rest is withdrawn", aid)
                due = alert_store.next_due(db, self.alert_id)
                if once and due is None:
                    return
                wait = self.idle_sleep if due is None else min(self.idle_sleep, max(0.01, due - time.time()))
                self.stop_event.wait(wait)
                continue
            with self._lock:
                self._inflight[batch["id"]] = wid
            try:
                self.send_one(db, batch)
            finally:
                with self._lock:
                    self._inflight.pop(batch["id"], None)
        self.store.close_thread_connection()

    def _guarded_loop(self, suffix: str, once: bool) -> None:
        while not self.stop_event.is_set():
            try:
                self._loop(suffix, once)
                return
            except StoreUnavailable as err:
                # Reconnect after a pause; a batch in flight keeps its key and its lease lapses.
                log.warning("delivery worker: database unavailable (%s), retrying in 1s", err)
                self.stop_event.wait(1.0)


def run_worker(
    store: Store,
    line: LineApi,
    stop_event: threading.Event | None = None,
    once: bool = False,
    rate_limit_rps: float | None = DEFAULT_RPS,
    *,
    concurrency: int = 1,
    **options: Any,
) -> dict[str, int]:
    """Send due batches until stopped (or, with `once`, until no work is left).

    With `alert_id` only that alert's batches are taken and `once` waits for batches in
    backoff or held under another worker's lease, so `alert send ID` returns when the alert
    is done (or stopped). `on_progress(n_recipients, outcome)` is called per finished batch.
    Returns counters: batches, sent, failed, retries. Options: those of `DeliveryWorker`.
    """
    return DeliveryWorker(store, line, stop_event, rate_limit_rps, **options).run(once, concurrency)
