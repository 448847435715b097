"""A backlog under real processes: LINE answering in 500 ms, 600 residents at once, one answer
worker killed with SIGKILL mid-burst, no traffic afterwards — every resident answered exactly once."""

from __future__ import annotations

import collections
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.procs import free_port, start_linesim, start_procfile, stop
from tests.conftest import make_event, sign

pytestmark = pytest.mark.e2e
SECRET, TOKEN = "backlog-secret", "backlog-token"
N_RESIDENTS = 600
QUESTIONS = ["粗大ごみを出したい", "住民票をコンビニで取りたい", "引っ越しの手続きは", "マイナンバーカードをなくした"]


def deliveries(sim: str) -> dict[str, set[str]]:
    """Per resident, the distinct LINE requests (reply or push) that reached them."""
    msgs = requests.get(f"{sim}/_emulator/messages", params={"limit": 10_000_000}, timeout=60).json()["messages"]
    per_user: dict[str, set[str]] = collections.defaultdict(set)
    for m in msgs:
        per_user[m["to"]].add(m["requestId"])
    return per_user


def test_every_resident_is_answered_exactly_once_after_a_worker_is_killed(tmp_path):
    web_port, sim_port = free_port(), free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    linesim = start_linesim(sim_port, SECRET, TOKEN, f"http://127.0.0.1:{web_port}/callback", tmp_path / "sim.log")
    env = {
        "PORT": str(web_port),
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": sim,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'backlog.db'}",
        "SECRET_KEY": "backlog-key",
        "MADOGUCHI_SEMANTIC": "0",  # this test is about delivery, not ranking
        "WEB_CONCURRENCY": "2",
        "ANSWER_LEASE_SECONDS": "3",
        # Answers queued longer than this are pushed (retry key from the event id) with a note.
        "REPLY_TOKEN_SECONDS": "10",
    }
    web = start_procfile("web", env, tmp_path / "web.log", wait_url=f"http://127.0.0.1:{web_port}/healthz")
    workers = [start_procfile("answer", env, tmp_path / f"answer{i}.log") for i in range(2)]
    try:
        deadline = time.time() + 60
        while requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5).json()["answer_workers"] < 2:
            assert time.time() < deadline, "answer workers did not start"
            time.sleep(0.2)
        requests.post(f"{sim}/_emulator/faults", json={"latency_ms": 500}, timeout=5).raise_for_status()
        users = [f"U{i:032x}" for i in range(N_RESIDENTS)]
        bodies = []
        for i, user in enumerate(users):
            token = requests.post(f"{sim}/_emulator/reply-tokens", json={"userId": user}, timeout=5).json()
            text = QUESTIONS[i % len(QUESTIONS)]
            event = make_event(
                "message",
                user,
                token["replyToken"],
                message={"id": str(i), "type": "text", "text": text, "quoteToken": "q"},
            )
            bodies.append(json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode())

        def post(body: bytes) -> int:
            return requests.post(
                f"http://127.0.0.1:{web_port}/callback",
                data=body,
                headers={"X-Line-Signature": sign(body, SECRET), "Content-Type": "application/json"},
                timeout=30,
            ).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(post, bodies))
        assert statuses == [200] * N_RESIDENTS  # every webhook acknowledged, answers or not

        # Mid-burst: kill one worker while it holds events (its threads are waiting on LINE).
        deadline = time.time() + 120
        while sum(len(v) for v in deliveries(sim).values()) < N_RESIDENTS // 4:
            assert time.time() < deadline, "answers did not start"
            time.sleep(0.1)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)

        # No traffic from now on: the surviving worker takes over the dead one's events itself.
        deadline = time.time() + 240
        while len(deliveries(sim)) < N_RESIDENTS:
            assert time.time() < deadline, f"only {len(deliveries(sim))} of {N_RESIDENTS} answered"
            time.sleep(0.5)
        time.sleep(5)  # room for any double to show up
        per_user = deliveries(sim)
        assert set(per_user) == set(users)
        counts = collections.Counter(len(v) for v in per_user.values())
        assert counts == {1: N_RESIDENTS}, counts
        health = requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5).json()
        assert health["inbox"]["queued"] == 0 and health["inbox"]["in_progress"] == 0
        log = (tmp_path / "answer1.log").read_text()
        assert "queued again" in log  # the survivor took over what the dead worker held
        kinds = collections.Counter(
            m["kind"]
            for m in requests.get(f"{sim}/_emulator/messages", params={"limit": 10_000_000}, timeout=60).json()[
                "messages"
            ]
        )
        print("deliveries by kind:", dict(kinds))
    finally:
        for w in workers:
            stop(w)
        stop(web)
        stop(linesim)
