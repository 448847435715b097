"""Outbox build for an evacuation alert with the per-area shelter guide, against a plain notice.

Usage: .venv/bin/python bench/bench_alert_outbox.py [--residents 100000]
Builds the app on a throwaway SQLite file in a temp directory (the sample shelters and areas);
touches nothing else. Prints the preview time, the outbox build time (recipient query, per-area
groups, batches with retry keys and fixed messages) and the batch counts.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts import service  # noqa: E402
from bot.runtime import runtime  # noqa: E402
from shelters import service as shelters  # noqa: E402
from store import residents as resident_store  # noqa: E402
from webhook import create_app  # noqa: E402

LANGS = ["ja"] * 6 + ["en", "easy", "zh", "vi", "ko", "pt"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=100_000)
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        # Alerts read the ward's areas from the app, as in production.
        app = create_app({"DEV_MODE": True, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"})
        context = app.app_context()
        context.push()
        rt = runtime(app)
        store, db = rt.store, rt.store.db
        codes = [a.code for a in rt.areas]
        shelters.ensure_seeded(store, ROOT / "shelters" / "data" / "sample_shelters.csv")
        for s in shelters.list_shelters(db)[::2]:
            shelters.set_status(db, s["source_id"], "open", by="bench")
        stopped = 0
        rows = []
        for i in range(args.residents):
            stop = rng.random() < 0.1
            stopped += stop
            area = None if rng.random() < 0.05 else rng.choice(codes)
            rows.append({"user_id": f"U{i:032x}", "lang": rng.choice(LANGS), "area": area, "delivery_stopped": stop})
        resident_store.bulk_add_residents(db, rows)
        print(f"residents {args.residents:,} over {len(codes)} areas, {stopped:,} with 配信停止")

        cases = [
            (
                "警戒レベル4 (life-safety, shelter guide)",
                dict(template="evac_level4", fields={"areas": "みどり区全域", "hazard": "洪水"}),
            ),
            ("free-text notice (plain)", dict(headline="給水のお知らせ", body="みどり公園で給水します")),
        ]
        for label, kw in cases:
            alert_id = service.create_alert(db, by="bench-a", **kw)
            t0 = time.perf_counter()
            p = service.preview(db, alert_id)
            t_preview = time.perf_counter() - t0
            service.approve(db, alert_id, "bench-b")
            t0 = time.perf_counter()
            service.start_delivery(db, alert_id, "bench-b")
            t_outbox = time.perf_counter() - t0
            n_batches, n_with_messages = db.execute(
                "SELECT COUNT(*), COUNT(messages_json) FROM alert_batches WHERE alert_id = ?", [alert_id]
            ).fetchone()
            print(
                f"{label}: recipients {p['recipient_count']:,}; preview {t_preview * 1000:.0f} ms; "
                f"outbox {t_outbox * 1000:.0f} ms; batches {n_batches} ({n_with_messages} with their own messages)"
            )
        store.close_thread_connection()
        context.pop()


if __name__ == "__main__":
    main()
