"""Anonymous POSTs to /admin/login from one address against gunicorn (the Procfile's web line).

Prints: attempts answered per second, how many were checked (401) or refused while waiting (429),
rows added to the append-only audit log, failed-login counter rows, throttle rows, and the wait
a correct login from another address sees (none) — the numbers of bench/README.md's console section.

    .venv/bin/python bench/bench_login_flood.py --attempts 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import security
from devtools.procs import free_port, start_procfile, stop
from store import Store
from store import admin as admin_store

PASSWORD = "kuyakusho-Midori-2026"


def session(base: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    page = s.get(f"{base}/admin/login", timeout=30)
    s.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
    return s, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--attempts", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db_url = f"sqlite:///{tmp / 'flood.db'}"
    store = Store(db_url)
    admin_store.create_user(store.db, "staff1", "staff", security.hash_password(PASSWORD))
    audit_before = store.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    port = free_port()
    env = {
        "PORT": str(port),
        "DATABASE_URL": db_url,
        "SECRET_KEY": "k",
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "MADOGUCHI_SEMANTIC": "0",
        "TRUSTED_PROXIES": "1",
    }
    base = f"http://127.0.0.1:{port}"
    web = start_procfile("web", env, tmp / "web.log", wait_url=f"{base}/healthz")
    try:
        sessions = [session(base) for _ in range(args.concurrency)]

        def attempt(i: int) -> int:
            s, csrf = sessions[i % len(sessions)]
            # 100-character names an attacker chooses, one address (the proxy reports it).
            name = f"{i:06d}-" + "x" * 93
            return s.post(
                f"{base}/admin/login",
                data={"name": name, "password": "guess-" + str(i), "csrf_token": csrf},
                headers={"X-Forwarded-For": "198.51.100.66"},
                allow_redirects=False,
                timeout=60,
            ).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            codes = list(pool.map(attempt, range(args.attempts)))
        elapsed = time.perf_counter() - t0
        s, csrf = sessions[0]
        t1 = time.perf_counter()
        ok = s.post(
            f"{base}/admin/login",
            data={"name": "staff1", "password": PASSWORD, "csrf_token": csrf},
            headers={"X-Forwarded-For": "203.0.113.5"},
            allow_redirects=False,
            timeout=60,
        ).status_code
        ok_ms = (time.perf_counter() - t1) * 1000
    finally:
        stop(web)
    db = Store(db_url).db
    audit_after = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    counters = db.execute("SELECT COUNT(*), SUM(failed), SUM(throttled) FROM audit_login_failures").fetchone()
    throttle_rows = db.execute("SELECT COUNT(*) FROM admin_login_throttle").fetchone()[0]
    print(f"attempts {args.attempts} from one address, {args.concurrency} client threads: {elapsed:.1f} s")
    print(f"  answered/s {args.attempts / elapsed:.0f}")
    print(
        f"  checked (401) {codes.count(401)}, refused while waiting (429) {codes.count(429)}, other {len(codes) - codes.count(401) - codes.count(429)}"
    )
    print(
        f"  audit_log rows added {audit_after - audit_before - (1 if ok == 302 else 0)} (the clerk's own login excluded)"
    )
    print(f"  failed-login counter rows {counters[0]} (failed {counters[1]}, throttled {counters[2]})")
    print(f"  throttle rows {throttle_rows}")
    print(f"  clerk from another address: HTTP {ok} in {ok_ms:.0f} ms")


if __name__ == "__main__":
    main()
