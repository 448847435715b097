"""Webhook load for benchmarks: signed bodies with fresh reply tokens, posted from client threads."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from devtools.events import SECRET, sign


def live_event(user_id: str, reply_token: str, **fields: Any) -> dict[str, Any]:
    """One event stamped now with a fresh webhookEventId (the bot dedups on it)."""
    return {
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
        **fields,
    }


def text_fields(message_id: str, text: str) -> dict[str, Any]:
    return {"type": "message", "message": {"id": message_id, "type": "text", "text": text, "quoteToken": "q"}}


def reply_token(sim: str, user_id: str | None = None) -> str:
    """A reply token minted by the LINE emulator (for `user_id` when given)."""
    body = {"userId": user_id} if user_id else None
    return requests.post(f"{sim}/_emulator/reply-tokens", json=body, timeout=10).json()["replyToken"]


def signed_body(event: dict[str, Any], secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()
    return body, sign(body, secret)


def signed_bodies(
    sim: str, n: int, event_for: Callable[[int, str], dict[str, Any]], secret: str = SECRET
) -> list[tuple[bytes, str]]:
    """`n` signed one-event bodies; `event_for(i, reply_token)` builds the i-th event."""
    return [signed_body(event_for(i, reply_token(sim)), secret) for i in range(n)]


@dataclass
class Load:
    """What the clients saw: per-request acknowledgement latencies (sorted, seconds), wall time."""

    latencies: list[float]
    wall: float
    t0: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return self.latencies[max(0, int(len(self.latencies) * 0.99) - 1)] * 1000


def post_all(url: str, bodies: Sequence[tuple[bytes, str]], concurrency: int, timeout: float = 60) -> Load:
    """POST every (body, signature) from `concurrency` threads, each with its own session."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    it = iter(bodies)

    def client() -> None:
        nonlocal errors
        s = requests.Session()
        while True:
            with lock:
                item = next(it, None)
            if item is None:
                return
            t0 = time.perf_counter()
            r = s.post(
                url,
                data=item[0],
                headers={"X-Line-Signature": item[1], "Content-Type": "application/json"},
                timeout=timeout,
            )
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                errors += r.status_code != 200

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return Load(latencies, time.perf_counter() - t0, t0, errors)
