"""Worker memory under oversized unsigned POSTs, with the body limit and (for comparison) without.

Starts the Procfile's web line (one worker), sends a 500 MiB POST /callback (Content-Length and
chunked), and eight parallel 100 MiB ones, and prints the growth of the worker's peak RSS
(VmHWM) and how long the refusal took.

Usage: python bench/bench_big_body.py [--without-limit]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.bigbody import MiB, send_huge, status_kib, worker_pid  # noqa: E402
from devtools.procs import free_port, start_procfile, stop  # noqa: E402
from devtools.stack import lone_web_env  # noqa: E402


def run(limit: int | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        env = lone_web_env(port, f"sqlite:///{tmp / 'b.db'}")
        if limit is not None:
            env["MAX_CONTENT_LENGTH"] = str(limit)
        proc = start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{port}/healthz")
        try:
            worker = worker_pid(proc.pid)
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            label = "default 1 MiB limit" if limit is None else f"limit {limit // MiB} MiB"
            for name, chunked in (("500 MiB, Content-Length", False), ("500 MiB, chunked", True)):
                before = status_kib(worker, "VmHWM")
                t0 = time.perf_counter()
                status, sent = send_huge(port, 500 * MiB, chunked)
                took = time.perf_counter() - t0
                grown = (status_kib(worker, "VmHWM") - before) / 1024
                print(
                    f"{label:20} {name:24} status {status}  sent {sent / MiB:6.0f} MiB  "
                    f"peak RSS +{grown:7.1f} MiB  {took * 1000:7.0f} ms"
                )
            before = status_kib(worker, "VmHWM")
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: send_huge(port, 100 * MiB, False), range(8)))
            grown = (status_kib(worker, "VmHWM") - before) / 1024
            print(
                f"{label:20} {'8 × 100 MiB parallel':24} statuses {sorted({r[0] for r in results})}  "
                f"peak RSS +{grown:7.1f} MiB"
            )
        finally:
            stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--without-limit", action="store_true", help="also run with MAX_CONTENT_LENGTH = 2 GiB")
    args = ap.parse_args()
    run(None)
    if args.without_limit:
        run(2048 * MiB)


if __name__ == "__main__":
    main()
