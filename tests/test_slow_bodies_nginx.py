"""Slow clients: 200 connections trickling a body one byte at a time.

Straight at gunicorn they hold every thread (each blocks reading a body), so /healthz and the
webhook stall; behind nginx with deploy/nginx.conf (the production setup in the README) nginx
holds them and the bot answers as usual.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from devtools.procs import ROOT, free_port, start_procfile, stop, wait_http
from tests.conftest import make_event, sign

pytestmark = pytest.mark.e2e
SECRET = "slow-secret"
N_SLOW = 200
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


class Tricklers:
    """N connections that each announce a 100 kB body and send one byte per second."""

    def __init__(self, port: int, n: int):
        self.port, self.n = port, n
        self.stop = threading.Event()
        self.socks: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tricklers:
        for _ in range(self.n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(
                b"POST /callback HTTP/1.1\r\nHost: x\r\nX-Line-Signature: AAAA\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            self.socks.append(s)
        self.thread.start()
        time.sleep(1.0)  # the server has seen them all
        return self

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for s in self.socks:
                try:
                    s.send(b" ")
                except OSError:
                    pass

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def probe(base: str, timeout: float) -> tuple[bool, bool]:
    """(/healthz answered, a signed webhook answered) within `timeout` seconds each."""
    ok = []
    try:
        ok.append(requests.get(f"{base}/healthz", timeout=timeout).status_code == 200)
    except requests.RequestException:
        ok.append(False)
    event = make_event(
        "message", "U" + "c" * 32, "tok", message={"id": "1", "type": "text", "text": "粗大ごみ", "quoteToken": "q"}
    )
    body = json.dumps({"destination": "U", "events": [event]}).encode()
    try:
        r = requests.post(
            f"{base}/callback", data=body, headers={"X-Line-Signature": sign(body, SECRET)}, timeout=timeout
        )
        ok.append(r.status_code == 200)
    except requests.RequestException:
        ok.append(False)
    return ok[0], ok[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if NGINX is None:
        pytest.skip("nginx not installed: run scripts/ensure-nginx.sh (Debian's nginx)")
    tmp = tmp_path_factory.mktemp("slow")
    app_port, nginx_port = free_port(), free_port()
    env = {
        "PORT": str(app_port),
        "BIND": "127.0.0.1",
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp / 'slow.db'}",
        "SECRET_KEY": "k",
        "MADOGUCHI_SEMANTIC": "0",
        "TRUSTED_PROXIES": "1",
        "WEB_CONCURRENCY": "2",
    }
    web = start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{app_port}/healthz")
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{nginx_port};")
    # Run unprivileged paths in the temp dir (the file itself is what production uses).
    prefix = tmp / "nginx"
    for sub in ("logs", "body", "proxy"):
        (prefix / sub).mkdir(parents=True)
        (prefix / sub).chmod(0o777)
    conf = conf.replace(
        "http {\n",
        f"http {{\n    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n"
        f"    access_log off;\n",
        1,
    )
    (prefix / "nginx.conf").write_text(conf)
    with (tmp / "nginx.out").open("w") as out:  # the child keeps its own copy
        nginx = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", f"daemon off; pid {prefix}/nginx.pid;"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{nginx_port}/healthz", 30, nginx)
        yield {
            "app": f"http://127.0.0.1:{app_port}",
            "app_port": app_port,
            "nginx": f"http://127.0.0.1:{nginx_port}",
            "nginx_port": nginx_port,
        }
    finally:
        nginx.terminate()
        nginx.wait(10)
        stop(web)


def test_slow_bodies_straight_at_gunicorn_stall_the_bot(stack):
    """What the deployment guards against (and proof that the trickle below really bites)."""
    assert probe(stack["app"], 5) == (True, True)
    with Tricklers(stack["app_port"], N_SLOW):
        # Which request a freed thread serves first is down to scheduling: the trickle bites when
        # the health check or the webhook (usually both) cannot get through.
        assert probe(stack["app"], 3) != (True, True)


def test_behind_nginx_slow_bodies_do_not_stall_the_bot(stack):
    time.sleep(1)
    assert probe(stack["nginx"], 5) == (True, True)
    with Tricklers(stack["nginx_port"], N_SLOW):
        started = time.perf_counter()
        assert probe(stack["nginx"], 3) == (True, True)
        assert time.perf_counter() - started < 3.0
