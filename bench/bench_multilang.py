"""Print retrieval metrics per language on the multilingual query splits.

Usage: .venv/bin/python bench/bench_multilang.py [--splits dev,test] [--json] [--failures]
Each query is searched the way the bot does for a resident whose message language is
detected (nlp.language); reply thresholds per language come from faq.multilang. Tuned on
*_dev.csv only; *_test.csv is reported, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.csvio import load_faq_csv  # noqa: E402
from faq.decide import decide  # noqa: E402
from faq.eval import read_queries  # noqa: E402
from faq.index import FaqIndex  # noqa: E402
from faq.multilang import MultiLangIndex, MultilingualSearch  # noqa: E402
from faq.synonyms import Synonyms  # noqa: E402
from nlp.language import detect_language  # noqa: E402


def evaluate(search: MultilingualSearch, queries) -> dict[str, dict[str, float]]:
    groups: dict[str, list] = defaultdict(list)
    for q in queries:
        groups[detect_language(q.query) or "unclear"].append(q)
    out = {}
    for lang, qs in sorted(groups.items()):
        n = n_out = h1 = h3 = answered_right = fallback_right = 0
        rr = 0.0
        failures = []
        for q in qs:
            hits = search.search(q.query, k=5, lang=None if lang == "unclear" else lang)
            d = decide(hits, **search.thresholds(lang))
            ids = [h.entry.id for h in hits]
            if q.in_scope:
                n += 1
                rank = next((i + 1 for i, hid in enumerate(ids) if hid in q.expected), None)
                if rank:
                    rr += 1 / rank
                    h1 += rank == 1
                    h3 += rank <= 3
                ok = d.kind == "answer" and d.hit.entry.id in q.expected
                answered_right += ok
            else:
                n_out += 1
                ok = d.kind == "fallback"
                fallback_right += ok
            if not ok:
                failures.append((q.query, "|".join(q.expected), d.kind, ids[:3]))
        out[lang] = {
            "n": n,
            "hit_at_1": h1 / n if n else 0.0,
            "hit_at_3": h3 / n if n else 0.0,
            "mrr": rr / n if n else 0.0,
            "answer_accuracy": answered_right / n if n else 0.0,
            "no_answer_n": n_out,
            "no_answer_accuracy": fallback_right / n_out if n_out else 0.0,
            "failures": failures,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--splits", default="dev,test")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--failures", action="store_true", help="print the queries that went wrong")
    args = ap.parse_args()
    entries = load_faq_csv(ROOT / "faq/data/sample_faq.csv")
    started = time.perf_counter()
    search = MultilingualSearch(FaqIndex.build(entries, Synonyms.load()), MultiLangIndex.build(entries))
    build_ms = (time.perf_counter() - started) * 1000
    rows = []
    for split in args.splits.split(","):
        path = ROOT / f"eval/multilang_queries_{split}.csv"
        if not path.exists():
            print(f"# {path} missing, skipped", file=sys.stderr)
            continue
        for lang, m in evaluate(search, read_queries(path)).items():
            rows.append({"split": split, "lang": lang, **m})
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "failures"} for r in rows], indent=1))
        return
    print(f"# {len(entries)} entries; translated: {search.ml.coverage()}; index build {build_ms:.0f} ms")
    print("| split | lang | n | hit@1 | hit@3 | MRR | answer acc. | out-of-scope n | fallback acc. |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['split']} | {r['lang']} | {r['n']} | {r['hit_at_1']:.2f} | {r['hit_at_3']:.2f} | {r['mrr']:.2f} | "
            f"{r['answer_accuracy']:.2f} | {r['no_answer_n']} | {r['no_answer_accuracy']:.2f} |"
        )
    if args.failures:
        for r in rows:
            for f in r["failures"]:
                print(r["split"], r["lang"], *f, sep="\t")


if __name__ == "__main__":
    main()
