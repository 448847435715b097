"""Webhook acknowledgements and answers per second, vs. line-bot-sdk's echo bot.

The echo bot (`bench/echo_bot.py`, the SDK's flask-echo example) runs under gunicorn's default
settings (`gunicorn bench.echo_bot:app`: one sync worker) and replies inside the request.
madoguchi runs as in production: the Procfile's `web:` line (gthread; `--web` workers), which
only acknowledges, and `answer:` workers (1, then 2) that answer from the inbox. The load is
N signed one-event text webhooks (fresh reply token each, resident questions from the ward's
dev split, no query cache) from C client threads, measured once start-up work has ended
(answer workers registered, semantic stage ready, inbox empty).

Prints per run: acknowledgements/s (what LINE waits for), p50/p99 of the acknowledgement,
answers/s (replies recorded by the emulator until the last one), and ratios to the echo bot.

Usage: python bench/bench_webhook.py [--requests 1000] [--concurrency 8] [--web 2]
                                     [--answer-workers 1,2] [--engine sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import load  # noqa: E402
from devtools.procs import free_port, procfile_command, start_linesim, stop, wait_http  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"
QUESTIONS = [
    row["query"] for row in csv.DictReader((ROOT / "eval" / "ward_queries_dev.csv").open(encoding="utf-8-sig"))
]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def _spawn(cmd: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            ["bash", "-c", f"exec {cmd}"], cwd=ROOT, env=_env(env), stdout=out, stderr=subprocess.STDOUT
        )


def replies(sim: str) -> int:
    return requests.get(f"{sim}/_emulator/delivery-counts", timeout=10).json()["replies"]


def run_load(url: str, sim: str, n: int, conc: int) -> dict[str, float]:
    bodies = load.signed_bodies(
        sim,
        n,
        lambda i, tok: load.live_event(f"U{i:032d}", tok, **load.text_fields(str(i), QUESTIONS[i % len(QUESTIONS)])),
        SECRET,
    )
    before = replies(sim)
    seen = load.post_all(url, bodies, conc)
    while replies(sim) < before + n and time.perf_counter() - seen.t0 < seen.wall + 300:
        time.sleep(0.02)
    done = time.perf_counter() - seen.t0
    return {
        "ack_rps": seen.rps,
        "answers_rps": (replies(sim) - before) / done,
        "p50_ms": seen.p50_ms,
        "p99_ms": seen.p99_ms,
        "errors": seen.errors,
    }


def idle_pickup(url: str, sim: str, tag: str, n: int = 20) -> dict[str, float]:
    """Answer latency of lone webhooks on an idle bot: acknowledgement → reply recorded by LINE."""
    took = []
    for i in range(n):
        user = f"Uidle{tag}{i:020d}"
        event = load.live_event(
            user, load.reply_token(sim, user), **load.text_fields(str(i), QUESTIONS[i % len(QUESTIONS)])
        )
        body, signature = load.signed_body(event, SECRET)
        requests.post(url, data=body, headers={"X-Line-Signature": signature}, timeout=30)
        acked = time.time()
        while True:
            msgs = requests.get(f"{sim}/_emulator/messages", params={"to": user}, timeout=10).json()["messages"]
            if msgs:
                took.append(msgs[0]["time"] / 1000 - acked)
                break
            time.sleep(0.005)
        time.sleep(0.3)
    took.sort()
    return {"p50_ms": statistics.median(took) * 1000, "max_ms": took[-1] * 1000}


def bench_echo(n: int, conc: int, tmp: Path, procfile_settings: bool = False) -> dict[str, float]:
    port, sim_port = free_port(), free_port()
    sim = start_linesim(sim_port, SECRET, TOKEN, f"http://127.0.0.1:{port}/callback", tmp / "echo-sim.log")
    env = {
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": f"http://127.0.0.1:{sim_port}",
    }
    if procfile_settings:  # the same gunicorn settings as madoguchi's web line
        env.update(PORT=str(port), BIND="127.0.0.1", WEB_CONCURRENCY="2")
        cmd = procfile_command("web").replace('"webhook:create_app()"', "bench.echo_bot:app")
        cmd = cmd.replace("--access-logfile -", "")
    else:  # gunicorn's defaults: one sync worker, nothing but the address given
        cmd = f"gunicorn bench.echo_bot:app --bind 127.0.0.1:{port}"
    web = _spawn(cmd, env, tmp / "echo-web.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, web)
        url, simurl = f"http://127.0.0.1:{port}/callback", f"http://127.0.0.1:{sim_port}"
        run_load(url, simurl, min(200, n), conc)
        return run_load(url, simurl, n, conc)
    finally:
        stop(web)
        stop(sim)


def _wait_ready(base: str, workers: int, timeout: float = 600) -> dict:
    """Until `workers` answer workers are live, their semantic stage is done and the inbox is empty."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = requests.get(f"{base}/healthz", timeout=10).json()
        idle = h["inbox"]["queued"] == 0 and h["inbox"]["in_progress"] == 0
        if h["answer_workers"] == workers and h["semantic"] in ("ready", "off", "lexical_only") and idle:
            return h
        time.sleep(0.5)
    raise TimeoutError(f"answer workers not ready: {h}")


def bench_madoguchi(
    label: str, database_url: str, n: int, conc: int, web_workers: int, answer_counts: list[int], tmp: Path
) -> list[tuple[str, dict[str, float]]]:
    port, sim_port = free_port(), free_port()
    sim = start_linesim(sim_port, SECRET, TOKEN, f"http://127.0.0.1:{port}/callback", tmp / f"{label}-sim.log")
    env = {
        "PORT": str(port),
        "BIND": "127.0.0.1",
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "DATABASE_URL": database_url,
        "MADOGUCHI_CACHE_DIR": str(tmp),
        "MADOGUCHI_QUERY_CACHE": "0",  # every question pays its embedding
        "SECRET_KEY": "bench",
        "WEB_CONCURRENCY": str(web_workers),
    }
    web = _spawn(procfile_command("web").replace("--access-logfile -", ""), env, tmp / f"{label}-web.log")
    workers: list[subprocess.Popen] = []
    results = []
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", 60, web)
        for count in answer_counts:
            while len(workers) < count:
                workers.append(_spawn(procfile_command("answer"), env, tmp / f"{label}-answer{len(workers)}.log"))
            _wait_ready(base, count)
            run_load(f"{base}/callback", f"http://127.0.0.1:{sim_port}", min(200, n), conc)  # warm-up
            _wait_ready(base, count)
            r = run_load(f"{base}/callback", f"http://127.0.0.1:{sim_port}", n, conc)
            _wait_ready(base, count)
            r["idle"] = idle_pickup(f"{base}/callback", f"http://127.0.0.1:{sim_port}", f"{count:08d}")
            results.append((f"{label}, {web_workers} web, {count} answer", r))
    finally:
        for w in workers:
            stop(w)
        stop(web)
        stop(sim)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--web", type=int, default=2, help="gunicorn workers of the web process (WEB_CONCURRENCY)")
    ap.add_argument("--answer-workers", default="1,2", help="answer-worker counts to measure, e.g. 1,2")
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = ap.parse_args()
    counts = [int(x) for x in args.answer_workers.split(",")]
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    cluster = None
    if "postgresql" in engines:
        from devtools.pgcluster import durable_cluster

        cluster = durable_cluster()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            echo = bench_echo(args.requests, args.concurrency, tmp)
            echo_gthread = bench_echo(args.requests, args.concurrency, tmp, procfile_settings=True)
            results = []
            for engine in engines:
                url = cluster.new_database("bench") if engine == "postgresql" else f"sqlite:///{tmp / 'bench.db'}"
                results += bench_madoguchi(engine, url, args.requests, args.concurrency, args.web, counts, tmp)
    finally:
        if cluster is not None:
            cluster.destroy()
    print(f"{'configuration':34} {'ack/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'answers/s':>9}  ack÷echo  answers÷echo")
    rows = (("echo bot (gunicorn defaults)", echo), ("echo bot (Procfile's gunicorn)", echo_gthread), *results)
    for name, r in rows:
        print(
            f"{name:34} {r['ack_rps']:7.1f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['answers_rps']:9.1f}"
            f"  {r['ack_rps'] / echo['ack_rps']:8.2f}  {r['answers_rps'] / echo['answers_rps']:11.2f}"
            + (f"  errors {r['errors']}" if r["errors"] else "")
        )
    for name, r in results:
        idle = r["idle"]
        print(f"{name}: idle bot, acknowledgement → reply p50 {idle['p50_ms']:.0f} ms, max {idle['max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
