"""Measure retrieval and reply decisions against labelled queries."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from excelcsv import CsvInvalid, Sheet
from faq.decide import Decision, decide
from faq.index import FaqIndex
from faq.model import FaqEntry

_ID_SPLIT_RE = re.compile(r"[|｜]")


@dataclass(frozen=True)
class EvalQuery:
    """A query and the ids that answer it (empty: the fallback is right)."""

    query: str
    expected: tuple[str, ...] = ()
    line: int = 0

    @property
    def in_scope(self) -> bool:
        return bool(self.expected)


@dataclass
class EvalResult:
    """Metrics and the queries that went wrong."""

    metrics: dict[str, float | int]
    failures: list[dict[str, Any]] = field(default_factory=list)

    def write_failures(self, path: str | Path) -> None:
        """Write failures as UTF-8 (BOM) CSV for reading in Excel."""
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["query", "expected", "decision", "top1", "top2", "top3"])
        for f in self.failures:
            tops = [f"{h['id']} {h['score']:.3f} {h['question']}" for h in f["got"]]
            w.writerow([f["query"], "|".join(f["expected"]), f["decision"], *tops, *[""] * (3 - len(tops))])
        Path(path).write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))


def read_queries(path: str | Path) -> list[EvalQuery]:
    """Read a ``query,expected`` CSV (as Excel saves it: UTF-8 with or without BOM, or CP932)."""
    sheet = Sheet(Path(path).read_bytes())
    names = {n for n in sheet.header if n}
    if not {"query", "expected"} <= names:
        raise ValueError(f"{path}: needs the columns query,expected (found {sorted(names)})")
    out = []
    for record in sheet.rows():
        row = sheet.as_dict(record)
        if row["query"]:
            ids = tuple(i.strip() for i in _ID_SPLIT_RE.split(row["expected"]) if i.strip())
            out.append(EvalQuery(row["query"], ids, record.line))
    if sheet.errors:
        raise CsvInvalid(sheet.errors)
    return out


def load_kosodate_json(path: str | Path) -> list[FaqEntry]:
    """Load the 子育てオープンデータ協議会 汎用FAQ JSON (CC BY 4.0) as FaqEntry objects."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = []
    for item in data:
        cats = [c for c in (item.get("category1"), item.get("category2")) if c and c not in ("null", "64")]
        service = item.get("service_name") or ""
        alternates = () if service == "null" else tuple(s.strip() for s in service.split("\n") if s.strip())
        entries.append(
            FaqEntry(
                id=str(item["faq_id"]),
                question=item["question"].replace("\n", " ").strip(),
                answer=item["answer"],
                category=" / ".join(cats),
                alternates=alternates,
            )
        )
    return entries


def _decision_label(d: Decision) -> str:
    more = ",".join(h.entry.id for h in d.candidates)
    if d.kind == "answer" and d.hit is not None:
        return f"answer:{d.hit.entry.id}" + (f"+{more}" if more else "")
    if d.kind == "suggest":
        return "suggest:" + more
    return "fallback" + (f"+{more}" if more else "")


def evaluate(index: FaqIndex, queries: Sequence[EvalQuery], k: int = 5, **decide_kwargs: float) -> EvalResult:
    """Hit@1/3/5 and MRR over in-scope queries; answer and fallback accuracy of decide()."""
    n = n_out = 0
    h1 = h3 = h5 = 0
    rr = 0.0
    answered_right = answered = suggested = fallback_right = resolved = 0
    failures: list[dict[str, Any]] = []
    for q in queries:
        hits = index.search(q.query, k=max(k, 5))
        d = decide(hits, **decide_kwargs)
        ids = [h.entry.id for h in hits]
        expected = set(q.expected)
        ok: bool
        if q.in_scope:
            n += 1
            rank = next((i + 1 for i, hid in enumerate(ids) if hid in expected), None)
            if rank is not None:
                rr += 1.0 / rank
                h1 += rank <= 1
                h3 += rank <= 3
                h5 += rank <= 5
            answered += d.kind == "answer"
            suggested += d.kind == "suggest"
            ok = d.kind == "answer" and d.hit is not None and d.hit.entry.id in expected
            answered_right += ok
            shown = [d.hit] if d.hit is not None else []
            resolved += any(h.entry.id in expected for h in [*shown, *d.candidates])
            ok = ok and rank == 1
        else:
            n_out += 1
            ok = d.kind == "fallback"
            fallback_right += ok
        if not ok:
            failures.append(
                {
                    "query": q.query,
                    "expected": list(q.expected),
                    "decision": _decision_label(d),
                    "got": [
                        {"id": h.entry.id, "score": round(h.score, 4), "question": h.entry.question} for h in hits[:3]
                    ],
                }
            )
    metrics: dict[str, float | int] = {
        "n": n,
        "hit_at_1": h1 / n if n else 0.0,
        "hit_at_3": h3 / n if n else 0.0,
        "hit_at_5": h5 / n if n else 0.0,
        "mrr": rr / n if n else 0.0,
        "answer_accuracy": answered_right / n if n else 0.0,
        "no_answer_n": n_out,
        "no_answer_accuracy": fallback_right / n_out if n_out else 0.0,
        "answer_rate": answered / n if n else 0.0,
        "suggest_rate": suggested / n if n else 0.0,
        "answer_precision": answered_right / answered if answered else 0.0,
        # The right entry was in the reply: the answer, or one tap away (a candidate).
        "resolved_rate": resolved / n if n else 0.0,
    }
    return EvalResult(metrics, failures)
