"""Webhook throughput and latency under gunicorn against the LINE emulator, vs. the SDK's echo bot.

Both servers run with the same gunicorn settings (the Procfile's); the load is N signed text
webhooks (one event each, a fresh reply token each) sent by C client threads. Prints req/s,
p50/p99 latency and madoguchi/echo throughput ratio.

Usage: python bench/bench_webhook.py [--requests 2000] [--concurrency 16] [--engine sqlite|postgresql|both]

`--engine both` measures madoguchi on SQLite and on PostgreSQL (a throwaway cluster from Debian's
binaries, default durability) in one run, each against the same echo-bot figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import sign  # noqa: E402
from tests.procs import free_port, procfile_command, start_linesim, stop, wait_http  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"
SETTLE_SECONDS = 20.0
EXTRA_ENV: dict[str, str] = {}
DATABASE_URLS: dict[str, str] = {}  # kind -> DATABASE_URL (default: a SQLite file per kind)
# Resident-style questions (the ward dev split: ~110 distinct, colloquial, some unanswerable),
# so the query-embedding cache does not flatter the numbers.
QUESTIONS = [
    row["query"] for row in csv.DictReader((ROOT / "eval" / "ward_queries_dev.csv").open(encoding="utf-8-sig"))
]


def run_load(url: str, sim: str, n: int, conc: int) -> dict[str, float]:
    tokens = [requests.post(f"{sim}/_emulator/reply-tokens", timeout=10).json()["replyToken"] for _ in range(n)]
    bodies = []
    for i, tok in enumerate(tokens):
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": f"U{i % 500:032d}"},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": tok,
            "message": {"id": str(i), "type": "text", "text": random.choice(QUESTIONS), "quoteToken": "q"},
        }
        body = json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()
        bodies.append((body, sign(body, SECRET)))
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    it = iter(bodies)

    def worker():
        nonlocal errors
        s = requests.Session()
        while True:
            with lock:
                item = next(it, None)
            if item is None:
                return
            t0 = time.perf_counter()
            r = s.post(
                url, data=item[0], headers={"X-Line-Signature": item[1], "Content-Type": "application/json"}, timeout=30
            )
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                errors += r.status_code != 200

    def replies() -> int:
        return requests.get(f"{sim}/_emulator/delivery-counts", timeout=10).json()["replies"]

    replies_before = replies()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    # Until every resident has the answer (the same as `wall` for a bot that replies in the request).
    while replies() < replies_before + n and time.perf_counter() - t0 < wall + 120:
        time.sleep(0.01)
    done = time.perf_counter() - t0
    lat.sort()
    return {
        "rps": n / wall,
        "answered_rps": (replies() - replies_before) / done,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def bench(kind: str, n: int, conc: int, tmp: Path) -> dict[str, float]:
    web_port, sim_port = free_port(), free_port()
    sim = start_linesim(sim_port, SECRET, TOKEN, f"http://127.0.0.1:{web_port}/callback", tmp / f"{kind}-sim.log")
    env = {
        "PORT": str(web_port),
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "DATABASE_URL": DATABASE_URLS.get(kind, f"sqlite:///{tmp / (kind + '.db')}"),
        "MADOGUCHI_CACHE_DIR": str(tmp),
        "SECRET_KEY": "bench",
        "WEB_CONCURRENCY": "2",
        **(EXTRA_ENV if kind.startswith("madoguchi") else {}),
    }
    cmd = procfile_command("web")
    if kind == "echo":
        cmd = cmd.replace('"webhook:create_app()"', "bench.echo_bot:app").replace("--access-logfile -", "")
    else:
        cmd = cmd.replace("--access-logfile -", "")
    import os

    full_env = dict(os.environ, **env)
    full_env["PATH"] = f"{Path(sys.executable).parent}:{full_env.get('PATH', '')}"
    with (tmp / f"{kind}-web.log").open("w") as out:
        web = subprocess.Popen(
            ["bash", "-c", f"exec {cmd}"], cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_http(f"http://127.0.0.1:{web_port}/healthz", 60, web)
        url = f"http://127.0.0.1:{web_port}/callback"
        run_load(url, f"http://127.0.0.1:{sim_port}", min(200, n), conc)  # warm-up (index build, pools)
        # Let the background work of a cold start finish (the semantic stage embeds the FAQ once,
        # then serves from its cache file): we measure the steady state a resident meets.
        time.sleep(SETTLE_SECONDS if kind.startswith("madoguchi") else 0)
        return run_load(url, f"http://127.0.0.1:{sim_port}", n, conc)
    finally:
        stop(web)
        stop(sim)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to let madoguchi finish cold-start work")
    ap.add_argument(
        "--no-query-cache",
        action="store_true",
        help="MADOGUCHI_QUERY_CACHE=0: every question pays its embedding (the load repeats 110 questions)",
    )
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = ap.parse_args()
    if args.no_query_cache:
        EXTRA_ENV["MADOGUCHI_QUERY_CACHE"] = "0"
    global SETTLE_SECONDS
    SETTLE_SECONDS = args.settle
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    cluster = None
    if "postgresql" in engines:
        from tests.pgcluster import PgCluster, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found: run scripts/ensure-postgresql.sh")
        cluster = PgCluster(bindir, durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            echo = bench("echo", args.requests, args.concurrency, tmp)
            results = []
            for engine in engines:
                kind = "madoguchi" if len(engines) == 1 and engine == "sqlite" else f"madoguchi-{engine}"
                if engine == "postgresql":
                    DATABASE_URLS[kind] = cluster.new_database("bench")
                results.append((kind, bench(kind, args.requests, args.concurrency, tmp)))
    finally:
        if cluster is not None:
            cluster.destroy()
    for name, r in (("echo bot (SDK example)", echo), *results):
        print(
            f"{name:24} webhook {r['rps']:7.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
            f"  answered {r['answered_rps']:7.1f}/s  errors {r['errors']}"
        )
    for name, ours in results:
        print(f"{name}: webhook throughput ratio to echo = {ours['rps'] / echo['rps']:.2f}")
        print(f"{name}: answered-per-second ratio to echo = {ours['answered_rps'] / echo['answered_rps']:.2f}")


if __name__ == "__main__":
    main()
