"""The bot as it runs in production, for end-to-end tests and benches: the LINE emulator (linesim)
and the Procfile's processes (gunicorn `web`, `answer`, `worker`), each a real process."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from devtools.procs import ROOT, free_port, start_linesim, start_procfile, stop

# Screenshots are refreshed in docs/screenshots/ only when asked (MADOGUCHI_SCREENSHOTS=1);
# otherwise they go to a temp dir so a test run leaves the work tree clean.
SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("MADOGUCHI_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "madoguchi-screenshots"
)
# Debian's chromium, driven by Playwright (no browser download), and the flags a container needs.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def lone_web_env(port: int, database_url: str, **env: str) -> dict[str, str]:
    """Settings for a web process with no LINE behind it (nothing it sends arrives), one worker,
    no semantic stage: for what happens before any reply (body limits, the console)."""
    return {
        "PORT": str(port),
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "k",
        "MADOGUCHI_SEMANTIC": "0",
        "WEB_CONCURRENCY": "1",
        **env,
    }


@contextmanager
def running_stack(
    tmp: Path,
    secret: str,
    token: str,
    database_url: str,
    processes: Sequence[str] = ("web", "answer"),
    web_host: str = "localhost",
    **env: str,
) -> Iterator[dict[str, str]]:
    """linesim plus the Procfile's `processes` (web first) on free ports; their logs in `tmp`.

    Yields {"web": base URL of the bot, "sim": base URL of the emulator, "env": the processes'
    settings (for a `flask` command against the same stack)}; `env` adds settings (WEB_CONCURRENCY
    is 2 unless given). Everything started is stopped at the end, last first.
    """
    web_port, sim_port = free_port(), free_port()
    started: list[subprocess.Popen] = []
    try:
        started.append(
            start_linesim(sim_port, secret, token, f"http://127.0.0.1:{web_port}/callback", tmp / "linesim.log")
        )
        settings = {
            "PORT": str(web_port),
            "LINE_CHANNEL_SECRET": secret,
            "LINE_CHANNEL_ACCESS_TOKEN": token,
            "LINE_API_BASE_URL": f"http://127.0.0.1:{sim_port}",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "devtools-stack-key",
            "WEB_CONCURRENCY": "2",
            **env,
        }
        for name in processes:
            wait = f"http://127.0.0.1:{web_port}/healthz" if name == "web" else None
            started.append(start_procfile(name, settings, tmp / f"{name}.log", wait_url=wait))
        yield {"web": f"http://{web_host}:{web_port}", "sim": f"http://127.0.0.1:{sim_port}", "env": settings}
    finally:
        for proc in reversed(started):
            stop(proc)


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
