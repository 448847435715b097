"""Under real gunicorn (the Procfile's web line): a 500 MiB unsigned POST leaves the worker's memory flat."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests

from tests.procs import free_port, start_procfile, stop

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _worker_pid(master: int) -> int:
    deadline = time.time() + 30
    while time.time() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise TimeoutError("no gunicorn worker")


def send_huge(port: int, total: int, chunked: bool) -> tuple[int | None, int]:
    """Stream `total` bytes of garbage as a POST /callback; (status the server answered, bytes sent)."""
    head = "POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Line-Signature: AAAA\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    piece = b"x" * MiB
    if chunked:
        piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    status = None
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.0)
        try:
            while sent < total:
                try:
                    data = sock.recv(4096)
                    if data:
                        status = int(data.split(b" ", 2)[1])
                        break
                except BlockingIOError:
                    pass
                sock.settimeout(30)
                sock.sendall(piece)
                sock.settimeout(0.0)
                sent += MiB
        except (BrokenPipeError, ConnectionResetError):
            pass
        if status is None:
            sock.settimeout(10)
            try:
                data = sock.recv(4096)
                status = int(data.split(b" ", 2)[1]) if data else None
            except OSError:
                status = None
    return status, sent


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bigbody")
    port = free_port()
    env = {
        "PORT": str(port),
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp / 'big.db'}",
        "SECRET_KEY": "k",
        "MADOGUCHI_SEMANTIC": "0",
        "WEB_CONCURRENCY": "1",
    }
    proc = start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{port}/healthz")
    yield port, _worker_pid(proc.pid)
    stop(proc)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_500_mib_unsigned_post_is_refused_and_memory_stays_flat(web, chunked):
    port, worker = web
    for _ in range(3):  # warm: the app and its first connections are built
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    peak_before = _kib(worker, "VmHWM")
    status, sent = send_huge(port, 500 * MiB, chunked)
    assert status == 413
    # The worker never held the body: its peak resident size grew by less than 16 MiB
    # (reading it whole used to cost about three times the body, 1.5 GB).
    assert _kib(worker, "VmHWM") - peak_before < 16 * 1024
    assert sent < 500 * MiB  # refused long before the end
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
