"""Start the real processes (linesim, gunicorn from the Procfile) for end-to-end tests and benches."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        m = re.match(rf"^{name}:\s*(.*)$", line)
        if m:
            return m.group(1)
    raise LookupError(f"Procfile has no {name}: line")


def wait_http(url: str, seconds: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {seconds}s")


def start_linesim(port: int, secret: str, token: str, webhook_url: str, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linesim",
                "--port",
                str(port),
                "--channel-secret",
                secret,
                "--access-token",
                token,
                "--webhook-url",
                webhook_url,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_http(f"http://127.0.0.1:{port}/_emulator/faults", proc=proc)
    return proc


def start_procfile(name: str, env: dict[str, str], log: Path, wait_url: str | None = None) -> subprocess.Popen:
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["PATH"] = f"{Path(sys.executable).parent}:{full_env.get('PATH', '')}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_command(name)}"],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if wait_url:
        wait_http(wait_url, seconds=60, proc=proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
