"""Answer-quality floors on our own query sets, set a little below what we measured.

Not a tuning target: the floors stop a change from silently making answers worse. Measured
2026-11-22 (bench/README.md, Retrieval), session 2 decision rule: ward dev hit@1 0.935 / test
0.879, answer accuracy 0.783 / 0.780, fallback 0.944 / 0.944; kosodate (semantic) test 0.823 /
0.766 / 0.783, fresh (written blind, reported only) 0.725 / 0.650 / 0.906; kosodate test,
lexical stage only, hit@1 0.728.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from faq.csvio import load_faq_csv
from faq.eval import evaluate, load_kosodate_json, read_queries
from faq.index import FaqIndex
from faq.semantic import EmbeddingCache, SemanticUnavailable
from faq.synonyms import Synonyms

ROOT = Path(__file__).resolve().parent.parent
KOSODATE = ROOT.parent / "shared" / "data" / "kosodate-faq" / "corpus.json"


@pytest.fixture(scope="module")
def ward_index(tmp_path_factory) -> FaqIndex:
    index = FaqIndex.build(load_faq_csv(ROOT / "faq" / "data" / "sample_faq.csv"), synonyms=Synonyms.load())
    try:
        index.build_semantic(EmbeddingCache(tmp_path_factory.mktemp("embeddings")))
    except SemanticUnavailable as exc:  # the floors below assume the semantic stage
        pytest.fail(f"semantic stage unavailable: {exc}")
    return index


@pytest.mark.parametrize(
    ("split", "hit1", "answer", "fallback"),
    [("dev", 0.90, 0.75, 0.88), ("test", 0.84, 0.74, 0.88)],
)
def test_ward_paraphrases_hold_their_floor(ward_index, split, hit1, answer, fallback):
    m = evaluate(ward_index, read_queries(ROOT / "eval" / f"ward_queries_{split}.csv")).metrics
    assert m["n"] >= 90 and m["no_answer_n"] >= 12
    assert m["hit_at_1"] >= hit1, m
    assert m["answer_accuracy"] >= answer, m
    assert m["no_answer_accuracy"] >= fallback, m


def test_kosodate_lexical_stage_holds_its_floor():
    index = FaqIndex.build(load_kosodate_json(KOSODATE), synonyms=Synonyms.load())
    m = evaluate(index, read_queries(ROOT / "eval" / "kosodate_queries_test.csv")).metrics
    assert m["hit_at_1"] >= 0.70, m
    assert m["no_answer_accuracy"] >= 0.73, m


@pytest.fixture(scope="module")
def kosodate_index(tmp_path_factory) -> FaqIndex:
    index = FaqIndex.build(load_kosodate_json(KOSODATE), synonyms=Synonyms.load())
    try:  # cold: ~2,100 passages, about a minute on two cores
        index.build_semantic(EmbeddingCache(tmp_path_factory.mktemp("embeddings")))
    except SemanticUnavailable as exc:
        pytest.fail(f"semantic stage unavailable: {exc}")
    return index


@pytest.mark.parametrize(
    ("split", "hit1", "answer", "fallback"),
    [("test", 0.79, 0.73, 0.73), ("fresh", 0.69, 0.61, 0.84)],
)
def test_kosodate_with_the_semantic_stage_holds_its_floor(kosodate_index, split, hit1, answer, fallback):
    m = evaluate(kosodate_index, read_queries(ROOT / "eval" / f"kosodate_queries_{split}.csv")).metrics
    assert m["n"] >= 150 and m["no_answer_n"] >= 20
    assert m["hit_at_1"] >= hit1, m
    assert m["answer_accuracy"] >= answer, m
    assert m["no_answer_accuracy"] >= fallback, m
