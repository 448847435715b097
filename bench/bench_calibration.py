"""Do the reply thresholds mean the same thing for a small and a large FAQ?

Usage: .venv/bin/python bench/bench_calibration.py [--split dev] [--sizes 50,150,300,661] [--seeds 5]

Takes random subsets of the 661-entry kosodate FAQ. A query whose answer is in the subset stays
in scope; a query whose answer was dropped becomes out of scope (a hard negative: the FAQ holds
its neighbours but not its answer), together with the real out-of-scope queries. If the fused
score is an absolute scale, the share of direct answers that are right (answer_precision) and
the share of unanswerable questions that fall back stay roughly level as the FAQ grows or shrinks.
Measurement only: nothing here is tuned.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.eval import EvalQuery, evaluate, load_kosodate_json, read_queries  # noqa: E402
from faq.index import FaqIndex  # noqa: E402
from faq.semantic import EmbeddingCache  # noqa: E402
from faq.synonyms import Synonyms  # noqa: E402

KOSODATE = Path("/work/shared/data/kosodate-faq/corpus.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--sizes", default="50,150,300,661")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--lexical", action="store_true", help="without the semantic stage")
    ap.add_argument("--cache", type=Path, default=ROOT / "instance" / "embeddings")
    args = ap.parse_args()
    entries = load_kosodate_json(KOSODATE)
    queries = read_queries(ROOT / "eval" / f"kosodate_queries_{args.split}.csv")
    synonyms = Synonyms.load()
    cache = None if args.lexical else EmbeddingCache(args.cache)
    keys = ("in_scope", "out_of_scope", "answer_precision", "answer_rate", "no_answer_accuracy", "hit_at_1")
    print(f"kosodate {args.split} queries; mean over {args.seeds} random subsets per size")
    print("| entries | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for size in (int(s) for s in args.sizes.split(",")):
        sums = dict.fromkeys(keys, 0.0)
        runs = args.seeds if size < len(entries) else 1  # the whole FAQ has only one subset
        for seed in range(runs):
            rng = random.Random(seed)
            # Keep about half of the answerable queries answerable at every size.
            must = {q.expected[0] for q in queries if q.in_scope and rng.random() < 0.5}
            rest = [e for e in entries if e.id not in must]
            rng.shuffle(rest)
            subset = [e for e in entries if e.id in must][:size]
            subset += rest[: max(0, size - len(subset))]
            ids = {e.id for e in subset}
            local = [EvalQuery(q.query, tuple(i for i in q.expected if i in ids), q.line) for q in queries]
            index = FaqIndex.build(subset, synonyms)
            if cache is not None:
                index.build_semantic(cache)
            m = evaluate(index, local).metrics
            values = {
                "in_scope": m["n"],
                "out_of_scope": m["no_answer_n"],
                "answer_precision": m["answer_precision"],
                "answer_rate": m["answer_rate"],
                "no_answer_accuracy": m["no_answer_accuracy"],
                "hit_at_1": m["hit_at_1"],
            }
            for k in keys:
                sums[k] += values[k] / runs
        cells = [f"{sums[k]:.0f}" if k in ("in_scope", "out_of_scope") else f"{sums[k]:.3f}" for k in keys]
        print(f"| {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
