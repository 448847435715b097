"""Print retrieval metrics for every FAQ corpus and query split that exists.

Usage: .venv/bin/python bench/bench_quality.py [--failures DIR] [--json]
Thresholds and weights are tuned on *_dev.csv only; *_test.csv is reported, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.csvio import load_faq_csv  # noqa: E402
from faq.eval import evaluate, load_kosodate_json, read_queries  # noqa: E402
from faq.index import FaqIndex  # noqa: E402
from faq.semantic import EmbeddingCache, SemanticUnavailable  # noqa: E402
from faq.synonyms import Synonyms  # noqa: E402

KOSODATE = Path("/work/shared/data/kosodate-faq/corpus.json")
CORPORA = {
    "ward": (
        lambda: load_faq_csv(ROOT / "faq/data/sample_faq.csv"),
        ROOT / "faq/data/sample_faq.csv",
        "eval/ward_queries_{split}.csv",
    ),
    "kosodate": (lambda: load_kosodate_json(KOSODATE), KOSODATE, "eval/kosodate_queries_{split}.csv"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--failures", type=Path, help="write <corpus>_<split>_failures.csv here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--splits", default="dev,test,fresh")
    ap.add_argument("--lexical", action="store_true", help="without the semantic stage")
    ap.add_argument("--cache", type=Path, default=ROOT / "instance" / "embeddings", help="embedding cache directory")
    args = ap.parse_args()
    synonyms = Synonyms.load()
    cache = None if args.lexical else EmbeddingCache(args.cache)
    rows = []
    for name, (loader, source, pattern) in CORPORA.items():
        if not source.exists():
            print(f"# {name}: {source} missing, skipped", file=sys.stderr)
            continue
        index = FaqIndex.build(loader(), synonyms)
        if cache is not None:
            try:
                index.build_semantic(cache)
            except SemanticUnavailable as exc:
                print(f"# semantic stage unavailable ({exc}); lexical only", file=sys.stderr)
        for split in args.splits.split(","):
            qpath = ROOT / pattern.format(split=split)
            if not qpath.exists():
                print(f"# {name}/{split}: {qpath} missing, skipped", file=sys.stderr)
                continue
            t = time.perf_counter()
            result = evaluate(index, read_queries(qpath))
            ms = (time.perf_counter() - t) * 1000 / max(1, result.metrics["n"] + result.metrics["no_answer_n"])
            rows.append(
                {
                    "corpus": name,
                    "split": split,
                    "entries": len(index),
                    **result.metrics,
                    "ms_per_query": ms,
                    "semantic_share": index.semantic_queries / max(1, len(read_queries(qpath))),
                }
            )
            index.semantic_queries = 0
            if args.failures:
                args.failures.mkdir(parents=True, exist_ok=True)
                result.write_failures(args.failures / f"{name}_{split}_failures.csv")
    if not rows:
        raise SystemExit("no query sets found")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    # Every metric faq.eval computes, in its order (one list of metrics, not a copy here).
    metric_names = [k for k in rows[0] if k not in ("corpus", "split", "entries", "ms_per_query", "semantic_share")]
    head = ["corpus", "split", "entries", *metric_names, "ms_per_query", "semantic_share"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in head]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
