"""The delivery discipline shared by every sender (alerts, the shared outbox): which LINE answers are
retried, how long to wait, how fast to send, and the lease kept while a batch is in flight.

Every attempt of a batch reuses its stored X-Line-Retry-Key, so a 5xx or timeout that LINE had in
fact accepted comes back as 409 on the retry: delivered, never sent twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from store import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """Delivered (200, or 409: an earlier attempt with the same retry key was accepted)."""

    status: int


@dataclass(frozen=True)
class Retry:
    """Transient (timeout, 429 rate limit, 5xx): try again later under the same key."""


@dataclass(frozen=True)
class Failed:
    """Permanent (a 4xx other than 409/429, or transient too many times): give up on this batch."""

    reason: str
    gave_up: bool = False  # transient, but tried too often


@dataclass(frozen=True)
class Stop:
    """The account's monthly message limit: stop the whole delivery instead of retrying all month."""


Decision = Sent | Retry | Failed | Stop


def decide_retry(status: int, attempts: int, message: str, *, max_attempts: int) -> Decision:
    """What to do after LINE answered `status` (0: no answer) to a batch tried `attempts` times.

    Pure: the callers record the decision (and compute the backoff with `backoff_delay`).
    """
    if status == 429 and "monthly limit" in message.lower():
        return Stop()
    if status in (200, 409):
        return Sent(status)
    if status in (0, 429) or status >= 500:
        if attempts >= max_attempts:
            return Failed(f"gave up after {attempts} attempts: {message}", gave_up=True)
        return Retry()
    return Failed(message)


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempt 1 → up to `base` seconds)."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1)))


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


class _ThreadConnections(Protocol):
    def close_thread_connection(self) -> None: ...


@contextmanager
def keep_lease(
    renew: Callable[[], Any], lease_seconds: float, store: _ThreadConnections | None = None
) -> Iterator[None]:
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
