"""faq.eval: query files, metric arithmetic, the kosodate loader."""

import json

import pytest

from faq.decide import Decision
from faq.eval import EvalQuery, evaluate, load_kosodate_json, read_queries
from faq.index import FaqIndex, Hit
from faq.model import FaqEntry


class FakeIndex:
    """Returns canned rankings so the metric arithmetic can be checked by hand."""

    def __init__(self, rankings: dict[str, list[tuple[str, float]]]) -> None:
        self.rankings = rankings

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return [Hit(FaqEntry(i, f"q{i}", "a"), s) for i, s in self.rankings[query][:k]]


def test_metric_math() -> None:
    index = FakeIndex(
        {
            "q1": [("a", 0.9), ("b", 0.1)],  # rank 1, answered right
            "q2": [("x", 0.4), ("y", 0.3), ("b", 0.2)],  # rank 3, suggest
            "q3": [("x", 0.9), ("y", 0.1)],  # not found, answered wrong
            "q4": [("c", 0.35), ("d", 0.3), ("e", 0.2), ("f", 0.1), ("g", 0.05), ("a", 0.01)],
            "o1": [("x", 0.1)],  # out of scope, fallback: right
            "o2": [("x", 0.95)],  # out of scope, answered: wrong
        }
    )
    queries = [
        EvalQuery("q1", ("a",)),
        EvalQuery("q2", ("b", "z")),
        EvalQuery("q3", ("c",)),
        EvalQuery("q4", ("a",)),  # rank 6 is outside k=5
        EvalQuery("o1"),
        EvalQuery("o2"),
    ]
    r = evaluate(index, queries, confident=0.5, suggest=0.25, margin=0.05, clear_floor=1.0)  # type: ignore[arg-type]
    m = r.metrics
    assert m["n"] == 4 and m["no_answer_n"] == 2
    assert m["hit_at_1"] == pytest.approx(1 / 4)
    assert m["hit_at_3"] == pytest.approx(2 / 4)
    assert m["hit_at_5"] == pytest.approx(2 / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 4)
    assert m["answer_accuracy"] == pytest.approx(1 / 4)
    assert m["no_answer_accuracy"] == pytest.approx(1 / 2)
    assert {
        "n",
        "hit_at_1",
        "hit_at_3",
        "hit_at_5",
        "mrr",
        "answer_accuracy",
        "no_answer_n",
        "no_answer_accuracy",
    } <= set(m)
    assert [f["query"] for f in r.failures] == ["q2", "q3", "q4", "o2"]
    assert r.failures[1]["decision"] == "answer:x"
    assert r.failures[1]["got"][0] == {"id": "x", "score": 0.9, "question": "qx"}


def test_read_queries_and_write_failures(tmp_path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes("\ufeffquery,expected\r\n粗大ごみ,sodai|gomi\r\n天気,\r\n,x\r\n".encode())
    qs = read_queries(path)
    assert qs == [EvalQuery("粗大ごみ", ("sodai", "gomi"), 2), EvalQuery("天気", (), 3)]
    assert not qs[1].in_scope
    ix = FaqIndex.build([FaqEntry("sodai", "粗大ごみの出し方", "申し込んでください")])
    result = evaluate(ix, qs)
    out = tmp_path / "fail.csv"
    result.write_failures(out)
    text = out.read_text(encoding="utf-8-sig")
    assert text.startswith("query,expected,decision")
    bad = tmp_path / "bad.csv"
    bad.write_text("q,e\n", encoding="utf-8")
    with pytest.raises(ValueError, match="query,expected"):
        read_queries(bad)


def test_load_kosodate_json(tmp_path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text(
        json.dumps(
            [
                {
                    "faq_id": 7,
                    "question": "母子手帳は\nどこ？",
                    "answer": "窓口です",
                    "category1": "妊娠・出産",
                    "category2": "64",
                    "service_name": "null",
                },
                {
                    "faq_id": 8,
                    "question": "児童手当",
                    "answer": "a",
                    "category1": "手当",
                    "category2": "児童手当",
                    "service_name": "児童手当\n特例給付",
                },
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    e1, e2 = load_kosodate_json(path)
    assert (e1.id, e1.question, e1.category, e1.alternates) == ("7", "母子手帳は どこ？", "妊娠・出産", ())
    assert e2.alternates == ("児童手当", "特例給付") and e2.category == "手当 / 児童手当"


def test_decision_default() -> None:
    assert Decision("fallback").candidates == ()
