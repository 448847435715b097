"""What staff's FAQ changes cost the bot: the per-question version check, the first question after a
publish or rollback, stopping a superseded version's embedding job, and CSV checks at the row cap.

Usage: .venv/bin/python bench/bench_faq_publish.py
Builds throwaway SQLite files and an embedding cache in a temp directory; touches nothing else.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.faq_runtime import FaqRuntime  # noqa: E402
from faq import semantic  # noqa: E402
from faq.csvio import MAX_FAQ_ROWS, FaqCsvInvalid, dump_faq_csv, load_faq_csv, parse_faq_csv  # noqa: E402
from faq.model import FaqEntry  # noqa: E402
from store import Store  # noqa: E402
from store import core as core_store  # noqa: E402

SAMPLE = ROOT / "faq" / "data" / "sample_faq.csv"
SYNONYMS = ROOT / "data" / "synonyms.csv"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def version_check(store: Store) -> None:
    db = store.db
    n = 20_000
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        core_store.published_faq_version(db)
        samples.append(time.perf_counter() - t)
    samples.sort()
    print(
        f"version check (one primary-key SELECT): p50 {samples[n // 2] * 1e6:.0f} µs, "
        f"p99 {samples[int(n * 0.99)] * 1e6:.0f} µs"
    )


def first_question(store: Store, rt: FaqRuntime) -> None:
    db = store.db
    v1 = rt.current().version
    rt.wait_semantic(timeout=1200)
    entries = core_store.faq_version_entries(db, v1)
    edited = [
        {"id": "drone-001", "question": "公園でドローンを飛ばしてもいいですか", "answer": "区立公園では禁止です。"},
        *entries,
    ]
    for label, make in (
        ("publish of a one-entry edit", lambda: core_store.create_faq_version(db, edited, "b", "b.csv", True)),
        ("rollback (every text cached)", lambda: core_store.publish_faq_version(db, v1) or v1),
    ):
        version = make()
        t = time.perf_counter()
        published = rt.current()
        hits = published.rank("公園でドローンを飛ばしたい").hits
        took = time.perf_counter() - t
        assert published.version == version
        print(
            f"first question after a {label}: {ms(took)} (index built before answering; semantic stage "
            f"{'attached' if published.index.semantic is not None else 'not attached'}; top {hits[0].entry.id})"
        )
    t = time.perf_counter()
    rt.current().rank("公園でドローンを飛ばしたい")
    print(f"a question when nothing changed: {ms(time.perf_counter() - t)}")


def cancel(store: Store, rt: FaqRuntime) -> None:
    db = store.db
    v1 = rt.current().version
    stamp = time.time_ns()
    big = [
        FaqEntry(f"big-{i}", f"架空の手続きその{i}番（{stamp}）", f"窓口{i}番で受け付けます（{stamp}）。").to_dict()
        for i in range(1000)
    ]
    core_store.create_faq_version(db, big, "b", "big.csv", True)
    rt.current()
    cache = rt._cache()
    before = cache.embedded
    time.sleep(3)
    core_store.publish_faq_version(db, v1)
    t = time.perf_counter()
    rt.current()  # the next question (a worker without traffic notices within STALE_CHECK_SECONDS)
    rt.wait_semantic(timeout=120)
    print(
        f"superseded 1,000-entry version (2,000 texts): embedding stopped {ms(time.perf_counter() - t)} after the "
        f"rollback, {cache.embedded - before} texts embedded in the 3 s it ran"
    )


def csv_checks() -> None:
    entries = load_faq_csv(SAMPLE)
    data = dump_faq_csv(entries)
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        parse_faq_csv(data, published=entries)
        runs.append(time.perf_counter() - t)
    print(f"parse + check the sample FAQ (95 rows, compared with the published one): {ms(statistics.median(runs))}")
    big = [FaqEntry(f"q{i}", f"質問{i}について", f"回答{i}です。" * 20) for i in range(MAX_FAQ_ROWS)]
    data = dump_faq_csv(big)
    t = time.perf_counter()
    parse_faq_csv(data)
    print(f"parse {MAX_FAQ_ROWS:,} rows (the cap, {len(data) / 1e6:.1f} MB): {ms(time.perf_counter() - t)}")
    rows = "\n".join(["id,question,answer"] + [f"q{i},質問{i},回答{i}" for i in range(200_000)]).encode()
    t = time.perf_counter()
    try:
        parse_faq_csv(rows)
    except FaqCsvInvalid:
        pass
    print(f"refuse a 200,000-row file ({len(rows) / 1e6:.1f} MB): {ms(time.perf_counter() - t)}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        rt = FaqRuntime(store, SAMPLE, synonyms_csv=SYNONYMS, embeddings_dir=Path(tmp) / "embeddings")
        version_check(store)
        csv_checks()
        first_question(store, rt)
        if rt.semantic and semantic.available():
            cancel(store, rt)
        else:
            print("(embedding engine unavailable: cancellation not measured)")


if __name__ == "__main__":
    main()
