"""3,000 recipients, injected 500s (half after accept) and 429s, a worker SIGKILLed mid-send:
every target recipient gets the alert exactly once, nobody outside the target gets it."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alerts import service
from bot.runtime import runtime
from devtools.procs import ROOT, procfile_command
from store import Store
from store import alerts as alert_store
from store import residents as resident_store
from tests.conftest import SECRET, TOKEN

pytestmark = pytest.mark.both_engines

N_TARGET = 3000


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    full_env = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    # The Procfile's worker line, with a short lease and a high client rate limit for the test.
    cmd = f"exec {procfile_command('worker')} --lease-seconds 1.5 --backoff 0.05 --rps 1000"
    with log.open("a") as out:
        return subprocess.Popen(
            ["bash", "-c", cmd], cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.mark.slow
def test_every_recipient_exactly_once_despite_faults_and_sigkill(app, emulator, tmp_path):
    db_url = app.config["DATABASE_URL"]
    store = Store(db_url)
    db = store.db
    rows = [
        {"user_id": f"Ut{i:05d}", "lang": ("ja", "en", "vi", None)[i % 4], "area": "midori-1" if i % 10 else None}
        for i in range(N_TARGET)
    ]
    rows += [{"user_id": f"Uo{i:04d}", "lang": "ja", "area": "wakaba-1"} for i in range(300)]
    resident_store.bulk_add_residents(db, rows)
    with app.app_context():
        alert_id = service.create_alert(
            db,
            by="tanaka",
            template="evac_level4",
            fields={"areas": "みどり一丁目", "hazard": "洪水"},
            areas=["midori-1"],
        )
        service.approve(db, alert_id, "suzuki")
        service.start_delivery(db, alert_id, "suzuki", batch_size=20)  # 150 batches: many chances to fail
    assert service.status(db, alert_id)["total"] == N_TARGET

    emulator.faults(
        rate_429=0.12, rate_500=0.06, rate_500_after_accept=0.07, latency_ms=15, seed=7, endpoints=["multicast"]
    )
    env = {
        "DATABASE_URL": db_url,
        "LINE_API_BASE_URL": emulator.base_url,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "SECRET_KEY": "test-secret-key",
    }
    log = tmp_path / "worker.log"
    first = _start_worker(env, log)
    try:
        deadline = time.time() + 30
        while service.status(db, alert_id)["sent"] < N_TARGET // 3:
            assert first.poll() is None, log.read_text()
            assert time.time() < deadline, log.read_text()
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)  # mid-send: no cleanup, a lease is left behind
        first.wait(5)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    st = service.status(db, alert_id)
    assert 0 < st["sent"] < N_TARGET

    second = _start_worker({**env}, log)
    try:
        deadline = time.time() + 45
        while service.status(db, alert_id)["state"] != "sent":
            assert second.poll() is None, log.read_text()
            assert time.time() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)

    st = service.status(db, alert_id)
    assert (st["total"], st["sent"], st["pending"], st["failed"]) == (N_TARGET, N_TARGET, 0, 0)
    per_user = collections.Counter(m["to"] for m in emulator.messages(kind="multicast"))
    assert set(per_user) == {r["user_id"] for r in rows[:N_TARGET]}  # nobody outside the target
    assert set(per_user.values()) == {1}  # everyone exactly once
    # The faults really happened, and retries after an accepted 500 were answered 409.
    statuses = collections.Counter(r["status"] for r in emulator.requests_log() if r["endpoint"] == "multicast")
    assert statuses[429] >= 10 and statuses[500] >= 10 and statuses[409] >= 1, statuses
    # Every retry of a batch reused its stored key.
    keys = {b["retry_key"] for b in db.query("SELECT retry_key FROM alert_batches WHERE alert_id = ?", [alert_id])}
    assert {r["retryKey"] for r in emulator.requests_log() if r["endpoint"] == "multicast"} <= keys
    assert alert_store.next_due(db, alert_id) is None


@pytest.mark.parametrize("workers", [3])
def test_concurrent_workers_never_share_a_batch(app, emulator, workers):
    """Threads with their own connections claim batches in parallel: each batch is sent once."""
    import threading

    from alerts.worker import run_worker

    rt = runtime(app)
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": f"Uc{i:04d}", "lang": "ja"} for i in range(1000)])
    with app.app_context():
        alert_id = service.create_alert(db, by="tanaka", headline="停電のお知らせ", body="復旧作業中です")
        service.approve(db, alert_id, "suzuki")
        service.start_delivery(db, alert_id, "suzuki", batch_size=10)
    emulator.faults(latency_ms=5)
    threads = [
        threading.Thread(
            target=run_worker,
            args=(rt.store, rt.line),
            kwargs={"once": True, "rate_limit_rps": None, "worker_id": f"w{i}"},
        )
        for i in range(workers)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    statuses = collections.Counter(r["status"] for r in emulator.requests_log() if r["endpoint"] == "multicast")
    assert statuses == {200: 100}
    assert set(collections.Counter(m["to"] for m in emulator.messages()).values()) == {1}


def test_lease_renewed_while_a_slow_batch_is_in_flight(app, emulator):
    """LINE answers after 1.5 s, the lease is 0.6 s: the heartbeat keeps it, nobody sends it twice."""
    import threading

    from alerts.worker import run_worker

    rt = runtime(app)
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": f"Ul{i:03d}", "lang": "ja"} for i in range(40)])
    with app.app_context():
        alert_id = service.create_alert(db, by="tanaka", headline="停電のお知らせ", body="復旧作業中です")
        service.approve(db, alert_id, "suzuki")
        service.start_delivery(db, alert_id, "suzuki", batch_size=20)
    emulator.faults(latency_ms=1500, endpoints=["multicast"])
    threads = [
        threading.Thread(
            target=run_worker,
            args=(rt.store, rt.line),
            kwargs={"once": True, "rate_limit_rps": None, "worker_id": f"w{i}", "lease_seconds": 0.6},
        )
        for i in range(3)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    keys = collections.Counter(r["retryKey"] for r in emulator.requests_log() if r["endpoint"] == "multicast")
    assert len(keys) == 2 and set(keys.values()) == {1}  # each batch attempted once
    assert [b["attempts"] for b in db.query("SELECT attempts FROM alert_batches WHERE alert_id = ?", [alert_id])] == [
        1,
        1,
    ]
    assert service.status(db, alert_id)["state"] == "sent"
