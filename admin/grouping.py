"""Group similar unanswered questions (character-bigram overlap), most asked first."""

from __future__ import annotations

from collections import Counter
from typing import Any

SIMILARITY = 0.6  # share of the shorter question's bigrams found in the other one
MIN_SHARED = 2


def _grams(text: str) -> frozenset[str]:
    t = "".join(text.split())
    if len(t) < 2:
        return frozenset({t})
    return frozenset(t[i : i + 2] for i in range(len(t) - 1))


def _similar(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    if not a or not b or shared < min(MIN_SHARED, len(a), len(b)):
        return 0.0
    return shared / min(len(a), len(b))


def group_queries(rows: list[dict[str, Any]], max_groups: int = 200) -> list[dict[str, Any]]:
    """rows: {query, at, lang} → groups {key, query, count, first, last, queries: [(text, n)], langs}."""
    by_text: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_text.setdefault(r["query"], []).append(r)
    ordered = sorted(by_text, key=lambda q: (-len(by_text[q]), q))
    groups: list[dict[str, Any]] = []
    for text in ordered:
        grams = _grams(text)
        # Single linkage: join the first group with any member similar enough.
        home = next((grp for grp in groups if any(_similar(grams, m) >= SIMILARITY for m in grp["_grams"])), None)
        if home is None:
            if len(groups) >= max_groups:
                continue
            home = {"_grams": [], "query": text, "members": []}
            groups.append(home)
        home["members"].append(text)
        home["_grams"].append(grams)
    out = []
    for grp in groups:
        member_rows = [r for t in grp["members"] for r in by_text[t]]
        ats = [r["at"] for r in member_rows]
        out.append(
            {
                "query": grp["query"],
                "count": len(member_rows),
                "first": min(ats),
                "last": max(ats),
                "queries": [(t, len(by_text[t])) for t in grp["members"]],
                "langs": sorted(Counter(r["lang"] for r in member_rows)),
            }
        )
    out.sort(key=lambda g: (-g["count"], -g["last"]))
    return out
