"""Survey answers at a disaster-free peak: 10,000 residents tap an answer within a minute.

Real processes from the Procfile (gunicorn `web`, `answer` workers, the delivery `worker`) against
linesim, on SQLite (or PostgreSQL with --engine postgresql). A survey to 10,000 residents is
created, approved and sent through the outbox first; then 10,000 signed postback webhooks (one
tap each, distinct residents) arrive from C client threads. Prints the webhook acknowledgement
rate (what LINE sees) next to line-bot-sdk's echo bot under the same gunicorn settings, and the
rate at which answers are recorded (until all 10,000 are in the database).

Usage: python bench/bench_survey.py [--residents 10000] [--concurrency 16] [--answer-workers 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_webhook  # noqa: E402
from devtools import load  # noqa: E402
from devtools.procs import free_port, start_linesim, start_procfile, stop  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"


def prepare(db_url: str, n: int) -> int:
    """n residents and a sent-to-all single-choice survey (recipients fixed, invitations queued)."""
    os.environ.setdefault("SECRET_KEY", "bench")
    from bot.handlers.surveys import invitation
    from store import Store
    from store import residents as resident_store
    from surveys import service

    store = Store(db_url)
    db = store.db
    resident_store.bulk_add_residents(
        db, [{"user_id": f"U{i:032x}", "area": "midori-1", "lang": "ja"} for i in range(n)]
    )
    q = service.make_question("single", "新しい図書館に欲しいものは？", ["自習室", "カフェ", "子ども室"])
    survey_id = service.create(db, "図書館アンケート", [q], "bench-a")
    service.approve(db, survey_id, "bench-b")
    from flask import Flask

    with Flask(__name__).app_context():
        service.start_sending(db, survey_id, "bench-a", invitation)
    store.close_thread_connection()
    return survey_id


def answered(db_url: str, survey_id: int) -> int:
    from store import Store
    from store import surveys as survey_store

    store = Store(db_url)
    try:
        return survey_store.count_respondents(store.db, survey_id)
    finally:
        store.close_thread_connection()


def sent(db_url: str, survey_id: int) -> int:
    from store import Store
    from store import outbox as outbox_store

    store = Store(db_url)
    try:
        return outbox_store.counts(store.db, "survey", survey_id)["sent"]
    finally:
        store.close_thread_connection()


def taps(url: str, sim: str, survey_id: int, n: int, conc: int) -> load.Load:
    """Every invited resident taps one option of the first question."""
    bodies = load.signed_bodies(
        sim,
        n,
        lambda i, tok: load.live_event(
            f"U{i:032x}", tok, type="postback", postback={"data": f"a=sv&s={survey_id}&q=0&o={random.randrange(3)}"}
        ),
        SECRET,
    )
    return load.post_all(url, bodies, conc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--answer-workers", type=int, default=1)
    ap.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    cluster = None
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.engine == "postgresql":
            from devtools.pgcluster import durable_cluster

            cluster = durable_cluster()
            db_url = cluster.new_database("survey")
        else:
            db_url = f"sqlite:///{tmp / 'survey.db'}"
        try:
            echo = bench_webhook.bench_echo(min(args.residents, 4000), args.concurrency, tmp)
            survey_id = prepare(db_url, args.residents)
            web_port, sim_port = free_port(), free_port()
            sim = f"http://127.0.0.1:{sim_port}"
            procs = [start_linesim(sim_port, SECRET, TOKEN, f"http://127.0.0.1:{web_port}/callback", tmp / "sim.log")]
            env = {
                "PORT": str(web_port),
                "LINE_CHANNEL_SECRET": SECRET,
                "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                "LINE_API_BASE_URL": sim,
                "DATABASE_URL": db_url,
                "SECRET_KEY": "bench",
                "WEB_CONCURRENCY": "2",
                "MADOGUCHI_CACHE_DIR": str(tmp),
            }
            procs.append(start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{web_port}/healthz"))
            procs += [start_procfile("answer", env, tmp / f"answer{i}.log") for i in range(args.answer_workers)]
            procs.append(start_procfile("worker", env, tmp / "worker.log"))
            t_send = time.perf_counter()
            while sent(db_url, survey_id) < args.residents and time.perf_counter() - t_send < 300:
                time.sleep(0.2)
            send_s = time.perf_counter() - t_send
            seen = taps(f"http://127.0.0.1:{web_port}/callback", sim, survey_id, args.residents, args.concurrency)
            while answered(db_url, survey_id) < args.residents and time.perf_counter() - seen.t0 < seen.wall + 600:
                time.sleep(0.1)
            done = time.perf_counter() - seen.t0
            n_answered = answered(db_url, survey_id)
        finally:
            for p in reversed(locals().get("procs", [])):
                stop(p)
            if cluster is not None:
                cluster.destroy()
    print(f"invitations: {args.residents} residents sent through the outbox in {send_s:.1f} s")
    print(
        f"echo bot (SDK example, gunicorn defaults) webhook {echo['ack_rps']:7.1f} req/s  p50 {echo['p50_ms']:6.1f} ms  p99 {echo['p99_ms']:6.1f} ms"
    )
    print(
        f"madoguchi ({args.engine}, {args.answer_workers} answer worker{'s' if args.answer_workers > 1 else ''})"
        f" webhook {seen.rps:7.1f} req/s  p50 {seen.p50_ms:6.1f} ms  p99 {seen.p99_ms:6.1f} ms  errors {seen.errors}"
    )
    print(f"answers recorded: {n_answered} of {args.residents} in {done:.1f} s = {n_answered / done:.1f}/s")
    print(f"webhook acknowledgement ratio to echo = {seen.rps / echo['ack_rps']:.2f}")


if __name__ == "__main__":
    main()
