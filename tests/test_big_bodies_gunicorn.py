"""Under real gunicorn (the Procfile's web line): a 500 MiB unsigned POST leaves the worker's memory flat."""

from __future__ import annotations

import pytest
import requests

from devtools.bigbody import MiB, send_huge, status_kib, worker_pid
from devtools.procs import free_port, start_procfile, stop
from devtools.stack import lone_web_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bigbody")
    port = free_port()
    env = lone_web_env(port, f"sqlite:///{tmp / 'big.db'}")
    proc = start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{port}/healthz")
    yield port, worker_pid(proc.pid)
    stop(proc)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_500_mib_unsigned_post_is_refused_and_memory_stays_flat(web, chunked):
    port, worker = web
    for _ in range(3):  # warm: the app and its first connections are built
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    peak_before = status_kib(worker, "VmHWM")
    status, sent = send_huge(port, 500 * MiB, chunked)
    assert status == 413
    # The worker never held the body: its peak resident size grew by less than 16 MiB
    # (reading it whole used to cost about three times the body, 1.5 GB).
    assert status_kib(worker, "VmHWM") - peak_before < 16 * 1024
    assert sent < 500 * MiB  # refused long before the end
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
