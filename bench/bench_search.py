"""Index build time, search latency and memory for a ~2000-entry FAQ.

The FAQ is the 661 kosodate entries plus rewritten variants (other ids,
question reworded with ward/time prefixes, answers shared), i.e. realistic vocabulary
and near-duplicates, 2000 entries in all. Usage: .venv/bin/python bench/bench_search.py [--no-cold]

Semantic stage: build cold (every passage embedded), warm (vectors from the on-disk cache,
like a restarted worker), and search latency split by path: lexical only (the lexical stage
was sure, no query embedding) and with the query embedding.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq import semantic  # noqa: E402
from faq.eval import load_kosodate_json, read_queries  # noqa: E402
from faq.index import FaqIndex  # noqa: E402
from faq.synonyms import Synonyms  # noqa: E402

KOSODATE = Path("/work/shared/data/kosodate-faq/corpus.json")
PREFIXES = ("○○区で", "中央出張所では", "令和8年度の", "土日に", "外国籍の場合", "転入したばかりで")
SUFFIXES = ("（区民向け）", "（事業者向け）", "")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def synthetic_faq(target: int = 2000):  # type: ignore[no-untyped-def]
    base = load_kosodate_json(KOSODATE)
    out = list(base)
    i = 0
    while len(out) < target:
        e = base[i % len(base)]
        p = PREFIXES[i % len(PREFIXES)]
        s = SUFFIXES[i % len(SUFFIXES)]
        out.append(replace(e, id=f"v{i}", question=f"{p}{e.question}{s}"))
        i += 1
    return out


def index_bytes(index: FaqIndex) -> int:
    """Bytes held by the index's sparse matrices and arrays (not Python object overhead)."""
    total = 0
    for ch in (index._words, index._chars, index._reads, index._answers):
        if ch is None or ch.matrix_t is None:
            continue
        for m in (ch.matrix_t, getattr(ch, "presence_t", None)):
            if m is not None:
                total += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        total += ch.idf.nbytes
    return total


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main() -> None:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold semantic build (minutes)")
    args = ap.parse_args()
    entries = synthetic_faq()
    synonyms = Synonyms.load()
    # Warm Sudachi's dictionary first so the build time is the index's own cost.
    FaqIndex.build(entries[:5], synonyms).search("保育園")
    from nlp import normalize
    from nlp.tokenize import _analyze_cached, analyze

    # Tokenize every text once first: Sudachi pages in its dictionary (shared by every index
    # in the process); what the index itself holds is measured separately after that.
    gc.collect()
    rss0 = rss_kb()
    for e in entries:
        for text in (e.question, *e.alternates, e.answer[:400]):
            analyze(synonyms.apply(normalize(text)))
    rss1 = rss_kb()
    _analyze_cached.cache_clear()
    gc.collect()
    t = time.perf_counter()
    index = FaqIndex.build(entries, synonyms)
    build_s = time.perf_counter() - t
    gc.collect()
    rss2 = rss_kb()

    queries = [q.query for p in sorted((ROOT / "eval").glob("*_dev.csv")) for q in read_queries(p)]
    queries = queries or [e.question for e in entries[:300]]
    lat = []
    for rnd in range(3):
        for q in queries:
            if rnd == 0:
                _analyze_cached.cache_clear()  # first pass: no token cache, like new messages
            t = time.perf_counter()
            index.search(q, k=5)
            lat.append((time.perf_counter() - t) * 1000)
        if rnd == 0:
            cold = sorted(lat)
    lat.sort()

    print(f"entries: {len(index)} (rows incl. alternates: {index._n_rows})")
    print(f"build: {build_s:.2f} s")
    print(
        f"search uncached ({len(cold)} queries): p50 {pct(cold, 0.5):.2f} ms, p99 {pct(cold, 0.99):.2f} ms, "
        f"max {cold[-1]:.2f} ms"
    )
    print(
        f"search all ({len(lat)}): p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, "
        f"mean {statistics.mean(lat):.2f} ms"
    )
    print(f"index matrices: {index_bytes(index) / 2**20:.1f} MiB")
    print(
        f"RSS: index +{(rss2 - rss1) / 1024:.1f} MiB; Sudachi dictionary pages + token cache "
        f"+{(rss1 - rss0) / 1024:.1f} MiB (once per process); process total {rss2 / 1024:.0f} MiB"
    )

    # --- semantic stage
    rss3 = rss_kb()
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp) if not args.no_cold else ROOT / "instance" / "embeddings"
        semantic.clear_memory()
        cache = semantic.EmbeddingCache(cache_dir)
        t = time.perf_counter()
        index.build_semantic(cache)
        label = "cold" if not args.no_cold else f"from {cache_dir}"
        print(f"semantic build {label}: {time.perf_counter() - t:.1f} s ({cache.embedded} passages embedded)")
        semantic.clear_memory()
        t = time.perf_counter()
        warm = semantic.EmbeddingCache(cache_dir)
        index.build_semantic(warm)
        print(
            f"semantic build warm (restart, vectors from {semantic.CACHE_FILE}): {time.perf_counter() - t:.2f} s "
            f"({warm.embedded} embedded)"
        )
    rss4 = rss_kb()
    lex_path: list[float] = []
    e5_path: list[float] = []
    for q in queries:
        semantic.clear_memory()  # no query-vector cache hits
        before = index.semantic_queries
        t = time.perf_counter()
        index.search(q, k=5)
        ms = (time.perf_counter() - t) * 1000
        (e5_path if index.semantic_queries > before else lex_path).append(ms)
    both = lex_path + e5_path
    print(f"search with semantic stage ({len(both)} queries, {len(e5_path) / len(both):.0%} embed the query):")
    print(f"  lexical path (lexical stage sure): p50 {pct(lex_path, 0.5):.2f} ms, p99 {pct(lex_path, 0.99):.2f} ms")
    print(
        f"  embedding path: p50 {pct(e5_path, 0.5):.2f} ms, p99 {pct(e5_path, 0.99):.2f} ms, max {max(e5_path):.2f} ms"
    )
    print(f"  all: p50 {pct(both, 0.5):.2f} ms, p99 {pct(both, 0.99):.2f} ms")
    print(
        f"RSS: semantic stage +{(rss4 - rss3) / 1024:.1f} MiB (model file is mmapped, shared between workers); "
        f"process total {rss4 / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
