"""Nearest-shelter latency for 10,000 shelters and import time (real file, 10,000-row file).

Usage: .venv/bin/python bench/bench_shelters.py
Builds throwaway SQLite files in a temp directory; touches nothing else.
"""

from __future__ import annotations

import csv
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shelters import service  # noqa: E402
from store import Store  # noqa: E402

MATSUYAMA = ROOT.parent / "shared" / "data" / "shelters" / "382019_evacuation_space.csv"
N = 10_000
QUERIES = 2_000


def synthetic_csv(n: int, rng: random.Random) -> str:
    """n shelters in the 自治体標準 layout, spread over ~40 km around Tokyo (Matsuyama's header)."""
    header = next(csv.reader(io.StringIO(MATSUYAMA.read_text(encoding="utf-8-sig"))))
    hazard_cols = [h for h in header if h.startswith("災害種別_")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for i in range(n):
        row = {h: "" for h in header}
        row.update({"全国地方公共団体コード": "131999", "ID": f"B{i:06d}", "名称": f"避難所{i}"})
        row["所在地_連結表記"] = f"東京都みどり区みどり{i % 9 + 1}-{i % 50 + 1}"
        row["緯度"] = f"{35.70 + rng.uniform(-0.2, 0.2):.6f}"
        row["経度"] = f"{139.65 + rng.uniform(-0.25, 0.25):.6f}"
        for col in hazard_cols:
            row[col] = "1" if rng.random() < 0.6 else ""
        row["想定収容人数"] = f"{rng.randint(50, 5000):,} "
        writer.writerow([row[h] if h else "" for h in header])
    return out.getvalue()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed_import(path: Path, tmp: Path, name: str) -> tuple[Store, float, int]:
    store = Store(f"sqlite:///{tmp / name}")
    store.ensure_ready()
    started = time.perf_counter()
    result = service.import_file(store.db, path, by="bench")
    return store, (time.perf_counter() - started) * 1000, result.total


def main() -> None:
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        _, ms, n = timed_import(MATSUYAMA, tmp, "real.db")
        print(f"import real Matsuyama file ({n} rows): {ms:.0f} ms")
        big = tmp / "10k.csv"
        big.write_text(synthetic_csv(N, rng), encoding="utf-8")
        store, ms, n = timed_import(big, tmp, "big.db")
        print(f"import {n}-row file (new database): {ms:.0f} ms")
        started = time.perf_counter()
        service.import_file(store.db, big, by="bench")
        print(f"re-import {n}-row file (all unchanged): {(time.perf_counter() - started) * 1000:.0f} ms")

        db = store.db
        ids = [s["source_id"] for s in service.list_shelters(db)]
        for sid in rng.sample(ids, N // 5):  # a fifth of the shelters opened
            service.set_status(db, sid, rng.choice(["open", "open", "crowded"]), by="bench")
        started = time.perf_counter()
        service.nearest(db, 35.70, 139.65)
        print(f"array rebuild after a status change (first query): {(time.perf_counter() - started) * 1000:.1f} ms")

        cases = {
            "open only, limit 5": dict(only_open=True),
            "open only, hazard flood": dict(only_open=True, hazard="flood"),
            "any status, limit 3": dict(only_open=False, limit=3),
        }
        for label, kwargs in cases.items():
            times, cpu = [], []
            for _ in range(QUERIES):
                lat, lon = 35.70 + rng.uniform(-0.2, 0.2), 139.65 + rng.uniform(-0.25, 0.25)
                started, started_cpu = time.perf_counter(), time.thread_time()
                found = service.nearest(db, lat, lon, **kwargs)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
                assert found
            print(
                f"nearest, {N} shelters, {label}: p50 {statistics.median(times):.2f} ms, "
                f"p99 {pct(times, 99):.2f} ms, max {max(times):.2f} ms; CPU p99 {pct(cpu, 99):.2f} ms ({QUERIES} queries)"
            )


if __name__ == "__main__":
    main()
