"""Alert delivery benchmark: N subscribers through linesim (a separate process) at a set rate limit.

Compares the delivery time of `flask --app webhook worker --once` (1 or more worker processes,
together holding LINE's rate limit) with the bound the rate limit allows (batches / rps), on
SQLite and on PostgreSQL (a throwaway cluster from Debian's binaries, default durability), and
reports the worker's peak RSS.

    .venv/bin/python -m bench.bench_delivery --subscribers 100000 --rps 20 --engine both --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.runtime import runtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.procs import free_port, procfile_command, start_linesim, stop  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument(
        "--rps", type=float, default=20.0, help="multicast rate limit (linesim's; the workers share it)"
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="worker process counts to run")
    args = parser.parse_args(argv)

    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    tmp = Path(tempfile.mkdtemp(prefix="bench_delivery_"))
    cluster = None
    if "postgresql" in engines:
        from devtools.pgcluster import durable_cluster

        cluster = durable_cluster()
    results = []
    try:
        for engine in engines:
            for workers in args.workers:
                url = cluster.new_database("bench") if engine == "postgresql" else f"sqlite:///{tmp / f'{workers}.db'}"
                results.append(run_once(args, engine, url, workers, tmp))
    finally:
        if cluster is not None:
            cluster.destroy()
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return results


def run_once(args: argparse.Namespace, engine: str, db_url: str, workers: int, tmp: Path) -> dict:
    port = free_port()
    sim = start_linesim(port, SECRET, TOKEN, "http://127.0.0.1:1/callback", tmp / f"linesim-{engine}-{workers}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        requests.post(
            f"{base}/_emulator/faults", json={"multicast_rate_limit_rps": args.rps, "latency_ms": args.latency_ms}
        ).raise_for_status()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "LINE_API_BASE_URL": base,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "SECRET_KEY": "bench",
            # LINE's limit is per channel: the worker processes share it.
            "LINE_MULTICAST_RPS": str(args.rps / workers),
            "MADOGUCHI_CACHE_DIR": str(tmp / "cache"),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        os.environ.update(
            {
                k: env[k]
                for k in (
                    "DATABASE_URL",
                    "LINE_API_BASE_URL",
                    "LINE_CHANNEL_SECRET",
                    "LINE_CHANNEL_ACCESS_TOKEN",
                    "SECRET_KEY",
                    "MADOGUCHI_CACHE_DIR",
                )
            }
        )
        from alerts import service
        from store import residents as resident_store
        from webhook import create_app

        app = create_app()
        store = runtime(app).store
        with app.app_context():
            db = store.db
            langs = ("ja", "en", "zh", "vi", None)
            t0 = time.perf_counter()
            resident_store.bulk_add_residents(
                db, ({"user_id": f"U{i:032x}", "lang": langs[i % len(langs)]} for i in range(args.subscribers))
            )
            fill_s = time.perf_counter() - t0
            alert_id = service.create_alert(
                db, by="bench-a", template="evac_level4", fields={"areas": "みどり区全域", "hazard": "洪水"}
            )
            service.approve(db, alert_id, "bench-b")

        # The workers start first (app start-up is not delivery) and wait for work.
        cmd = f"exec {procfile_command('worker')}"
        logs = [tmp / f"worker-{engine}-{workers}-{i}.log" for i in range(workers)]
        procs = []
        for log_path in logs:
            with log_path.open("w") as out:
                procs.append(
                    subprocess.Popen(["bash", "-c", cmd], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
                )
        deadline = time.time() + 180
        while not all("delivery worker started" in p.read_text() for p in logs):
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit("\n".join(p.read_text()[-2000:] for p in logs))
            time.sleep(0.2)
        time.sleep(1.0)
        with app.app_context():
            t0 = time.perf_counter()
            service.start_delivery(db, alert_id, "bench-b")
            outbox_s = time.perf_counter() - t0
            batches = service.status(db, alert_id)["batches"]
            while service.status(db, alert_id)["state"] != "sent":
                time.sleep(0.1)
            wall = time.perf_counter() - t0
        for p in procs:
            p.terminate()
            p.wait(30)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with app.app_context():
            st = service.status(db, alert_id)
        store.close()
        log = [
            r
            for r in requests.get(f"{base}/_emulator/requests", params={"limit": 0}).json()["requests"]
            if r["endpoint"] == "multicast"
        ]
        # Delivery span: first request to last, plus one interval (the bound counts n intervals).
        span = (log[-1]["time"] - log[0]["time"]) / 1000 + 1 / args.rps
        bound = math.ceil(batches) / args.rps
        result = {
            "engine": engine,
            "workers": workers,
            "subscribers": args.subscribers,
            "rps": args.rps,
            "batches": batches,
            "sent": st["sent"],
            "failed": st["failed"],
            "bound_s": round(bound, 2),
            "delivery_s": round(span, 2),
            "ratio_to_bound": round(span / bound, 3),
            "outbox_start_to_sent_s": round(wall, 2),
            "statuses": {str(k): sum(1 for r in log if r["status"] == k) for k in sorted({r["status"] for r in log})},
            "worker_peak_rss_mb": round(rss_mb, 1),
            "outbox_build_s": round(outbox_s, 2),
            "subscriber_insert_s": round(fill_s, 2),
        }
        print(json.dumps(result, ensure_ascii=False), flush=True)
        return result
    finally:
        stop(sim)


if __name__ == "__main__":
    main()
