"""Alert delivery benchmark: N subscribers through linesim (a separate process) at a set rate limit.

Compares the wall time of `flask --app webhook worker --once` with the bound the rate limit
allows (batches / rps) and reports the worker's peak RSS.

    .venv/bin/python -m bench.bench_delivery --subscribers 100000 --rps 20
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.procs import free_port, procfile_command, start_linesim, stop  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rps", type=float, default=20.0, help="multicast rate limit (linesim's and the worker's)")
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_delivery_"))
    port = free_port()
    sim = start_linesim(port, SECRET, TOKEN, "http://127.0.0.1:1/callback", tmp / "linesim.log")
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        requests.post(
            f"{base}/_emulator/faults", json={"multicast_rate_limit_rps": args.rps, "latency_ms": args.latency_ms}
        ).raise_for_status()
        db_url = f"sqlite:///{tmp / 'bench.db'}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "LINE_API_BASE_URL": base,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "SECRET_KEY": "bench",
            "LINE_MULTICAST_RPS": str(args.rps),
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
                )
            }
        )
        from alerts import service
        from store import residents as resident_store
        from webhook import create_app

        app = create_app()
        with app.app_context():
            db = app.extensions["madoguchi"].store.db
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
            t0 = time.perf_counter()
            service.start_delivery(db, alert_id, "bench-b")
            outbox_s = time.perf_counter() - t0
            batches = service.status(db, alert_id)["batches"]

        cmd = f"exec {procfile_command('worker')} --once"
        t0 = time.perf_counter()
        proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with app.app_context():
            st = service.status(db, alert_id)
        counts = requests.get(f"{base}/_emulator/delivery-counts").json()
        log = [
            r
            for r in requests.get(f"{base}/_emulator/requests", params={"limit": 0}).json()["requests"]
            if r["endpoint"] == "multicast"
        ]
        # Delivery span: first request to last, plus one interval (the bound counts n intervals).
        span = (log[-1]["time"] - log[0]["time"]) / 1000 + 1 / args.rps
        bound = math.ceil(batches) / args.rps
        result = {
            "subscribers": args.subscribers,
            "rps": args.rps,
            "batches": batches,
            "sent": st["sent"],
            "failed": st["failed"],
            "bound_s": round(bound, 2),
            "delivery_s": round(span, 2),
            "ratio_to_bound": round(span / bound, 3),
            "worker_process_wall_s": round(wall, 2),
            "statuses": {str(k): sum(1 for r in log if r["status"] == k) for k in sorted({r["status"] for r in log})},
            "worker_peak_rss_mb": round(rss_mb, 1),
            "outbox_build_s": round(outbox_s, 2),
            "subscriber_insert_s": round(fill_s, 2),
            "emulator_counts": {k: v for k, v in counts.items() if not isinstance(v, (dict, list))},
        }
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return result
    finally:
        stop(sim)


if __name__ == "__main__":
    main()
