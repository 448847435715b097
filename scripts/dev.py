"""`make run`: the LINE emulator with its chat page, the bot (gunicorn), an answer worker and the delivery worker.

Everything runs in dev mode against the local emulator: nothing talks to the real LINE.
Ctrl-C stops all processes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WEB_PORT = int(os.environ.get("PORT", "8000"))
SIM_PORT = int(os.environ.get("SIMULATOR_PORT", "9100"))
SECRET = "dev-channel-secret"
TOKEN = "dev-access-token"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(re.match(r"^(\w+):\s*(.*)$", line).groups() for line in lines if re.match(r"^\w+:", line))


def cli_lines() -> list[str]:
    """The shell lines that point `flask --app webhook …` at what `make run` started."""
    rel = os.path.relpath(BIN, ROOT)
    return [
        f". {rel}/activate",
        f"export MADOGUCHI_DEV=1 LINE_API_BASE_URL=http://127.0.0.1:{SIM_PORT}",
        "flask --app webhook users create admin --role admin",
        'flask --app webhook faq ask "粗大ごみを出したい"',
    ]


def wait_http(url: str, seconds: float = 30) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    env = dict(os.environ)
    env.update(
        MADOGUCHI_DEV="1",
        PORT=str(WEB_PORT),
        # The dev secrets are published: reachable from this machine only.
        BIND=env.get("BIND", "127.0.0.1"),
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=f"http://127.0.0.1:{SIM_PORT}",
        SIMULATOR_URL=f"http://127.0.0.1:{SIM_PORT}/",
        WEB_CONCURRENCY=env.get("WEB_CONCURRENCY", "1"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    (ROOT / "instance").mkdir(exist_ok=True)
    procs: list[subprocess.Popen] = []
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linesim",
                "--port",
                str(SIM_PORT),
                "--channel-secret",
                SECRET,
                "--access-token",
                TOKEN,
                "--webhook-url",
                f"http://127.0.0.1:{WEB_PORT}/callback",
            ],
            cwd=ROOT,
            env=env,
        )
    )
    # Sample data: shelters are imported on first start when the database has none.
    for _name, cmd in procfile().items():
        procs.append(subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=ROOT, env=env))
    ok = wait_http(f"http://127.0.0.1:{WEB_PORT}/healthz") and wait_http(f"http://127.0.0.1:{SIM_PORT}/")
    if ok:
        # The tap menu under the simulator's chat, as a ward would install it (idempotent; a
        # missing font only costs the menu, never the run).
        subprocess.Popen(["bash", "-c", "exec flask --app webhook richmenu sync >/dev/null 2>&1"], cwd=ROOT, env=env)
    print("\n" + "=" * 64)
    if ok:
        print(f"  madoguchi is running. Open the chat simulator:\n\n    http://127.0.0.1:{WEB_PORT}/simulator\n")
        print(f"  (LINE emulator: http://127.0.0.1:{SIM_PORT}/ , bot: http://127.0.0.1:{WEB_PORT}/healthz)")
        print(f"  Console: http://127.0.0.1:{WEB_PORT}/admin/ (first create an account, below)")
        print("\n  Commands against this instance, in another terminal in this directory:")
        for line in cli_lines():
            print(f"    {line}")
    else:
        print("  something did not start; see the log above")
    print("  Ctrl-C stops everything.\n" + "=" * 64 + "\n", flush=True)

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for p in procs:
            if p.poll() is not None:
                print(f"process {p.args[:3]} exited with {p.returncode}; stopping", flush=True)
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
