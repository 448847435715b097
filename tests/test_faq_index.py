"""faq.index and faq.decide on a small inline ward FAQ."""

import pytest

from faq.decide import ALSO_BAND, CLEAR_FLOOR, CLEAR_RATIO, CONFIDENT, RELATED_FLOOR, SUGGEST, Decision, decide
from faq.index import FaqIndex, Hit
from faq.model import FaqEntry
from faq.synonyms import Synonyms

FAQ = [
    FaqEntry(
        "sodai",
        "粗大ごみの出し方を教えてください",
        "粗大ごみ受付センターへ電話またはインターネットで申し込んでください。",
        category="ごみ",
        alternates=("ソファやベッドを捨てたい",),
    ),
    FaqEntry(
        "gomi-day", "ごみの収集日はいつですか", "地域ごとの収集日はごみカレンダーで確認できます。", category="ごみ"
    ),
    FaqEntry(
        "tennyu",
        "引っ越してきたときの手続きは？",
        "転入日から14日以内に区役所で転入届を出してください。",
        category="戸籍・住民票",
    ),
    FaqEntry(
        "juminhyo",
        "住民票の写しを取りたい",
        "区役所の窓口またはマイナンバーカードでコンビニ交付を利用できます。",
        category="戸籍・住民票",
    ),
    FaqEntry("mynumber", "マイナンバーカードの申請方法", "交付申請書を郵送するか、スマートフォンで申請できます。"),
    FaqEntry(
        "hoiku",
        "保育園に入るにはどうすればいいですか",
        "入園申込書を子ども家庭課に提出してください。",
        category="子育て",
    ),
    FaqEntry(
        "jidou-teate", "児童手当はいつ振り込まれますか", "6月、10月、2月に前月分までを振り込みます。", category="子育て"
    ),
    FaqEntry("hours", "区役所の開庁時間は？", "平日8時30分から17時15分までです。"),
]


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex.build(FAQ, Synonyms.load())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("大型ゴミを捨てたいんですけど", "sodai"),
        ("そだいごみってどうやって出すの", "sodai"),
        ("ソファを処分したい", "sodai"),
        ("ゴミの日を知りたい", "gomi-day"),
        ("引越しの届出", "tennyu"),
        ("住民票がほしいのですが", "juminhyo"),
        ("マイナカードを作りたい", "mynumber"),
        ("保育所の申し込み", "hoiku"),
        ("子ども手当の振込日", "jidou-teate"),
        ("市役所は何時から開いてますか", "hours"),
        ("ＨＯＩＫＵ　保育園　入園", "hoiku"),
    ],
)
def test_paraphrases_rank_first(index: FaqIndex, query: str, expected: str) -> None:
    hits = index.search(query, k=3)
    assert hits, query
    assert hits[0].entry.id == expected, [(h.entry.id, round(h.score, 3)) for h in hits]


def test_scores_are_ranked_and_in_unit_range(index: FaqIndex) -> None:
    hits = index.search("粗大ごみの出し方を教えてください", k=8)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < s <= 1.0 for s in scores)
    assert hits[0].score >= CONFIDENT


@pytest.mark.parametrize("query", ["", "   ", "🎉🎉", "！？", "教えてください"])
def test_empty_queries_return_nothing(index: FaqIndex, query: str) -> None:
    assert index.search(query) == []


def test_unrelated_query_scores_low(index: FaqIndex) -> None:
    hits = index.search("今日の競馬の予想を教えて")
    assert not hits or decide(hits).kind == "fallback"


def test_accessors_and_k(index: FaqIndex) -> None:
    assert len(index) == len(FAQ)
    assert index.get("hours") is FAQ[-1]
    assert index.get("nope") is None
    assert [e.id for e in index.entries] == [e.id for e in FAQ]
    assert len(index.search("ごみ", k=1)) == 1


@pytest.mark.parametrize("bad_k", [0, -1, 1.5, True])
def test_bad_k_is_value_error(index: FaqIndex, bad_k) -> None:
    with pytest.raises(ValueError):
        index.search("ごみ", k=bad_k)


def test_bad_inputs_are_value_errors(index: FaqIndex) -> None:
    with pytest.raises(ValueError):
        index.search(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate FAQ id"):
        FaqIndex.build([FAQ[0], FAQ[0]])
    with pytest.raises(ValueError, match="not FaqEntry"):
        FaqIndex.build(["粗大ごみ"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        FaqIndex.build("粗大ごみ")  # type: ignore[arg-type]


def test_empty_and_symbol_only_faq() -> None:
    assert FaqIndex.build([]).search("ごみ") == []
    odd = FaqIndex.build([FaqEntry("x", "？？", "!")])
    assert odd.search("ごみ") == []


def test_synonyms_apply_on_both_sides() -> None:
    syn = Synonyms([("保育園", ["保育所"]), ("国民年金", ["年金"])])
    assert syn.apply("保育所と年金と国民年金") == "保育園と国民年金と国民年金"
    ix = FaqIndex.build([FaqEntry("a", "保育所の一覧", "x"), FaqEntry("b", "図書館の一覧", "y")], syn)
    assert ix.search("保育園の一覧")[0].entry.id == "a"


def test_synonyms_csv_parse_errors() -> None:
    with pytest.raises(ValueError):
        Synonyms.parse("a,b\n1,2\n")
    assert len(Synonyms.parse("term,synonyms\n粗大ごみ,大型ごみ|粗大ゴミ\n")) == 2


def _hit(score: float, id: str = "x", semantic: bool = True) -> Hit:
    return Hit(FaqEntry(id, "q", "a"), score, semantic)


def test_lexical_only_hits_use_the_lexical_thresholds() -> None:
    from faq.decide import LEXICAL

    s = LEXICAL["suggest"] + 0.01
    assert s < SUGGEST  # a score that only the lexical scale calls "suggest"
    assert decide([_hit(s, "a", False), _hit(s - 0.01, "b", False)]).kind == "suggest"
    assert decide([_hit(s, "a"), _hit(s - 0.01, "b")]).kind == "fallback"


def test_decide_thresholds() -> None:
    assert decide([]) == Decision("fallback")
    d = decide([_hit(CONFIDENT + 0.2, "a"), _hit(SUGGEST * 0.5, "b")])
    assert d.kind == "answer" and d.hit is not None and d.hit.entry.id == "a"
    low = min(SUGGEST, CLEAR_FLOOR) - 0.01
    assert decide([_hit(low), _hit(low - 0.01)]).kind == "fallback"
    # below CONFIDENT but far ahead of everything else: still answered
    d = decide([_hit(CLEAR_FLOOR + 0.01, "a"), _hit((CLEAR_FLOOR + 0.01) / CLEAR_RATIO - 0.01, "b")])
    assert d.kind == "answer" and d.hit is not None and d.hit.entry.id == "a"
    # a near tie at a high score is answered, the close runner-ups offered with it (at most 3)
    d = decide([_hit(0.9, "a"), _hit(0.9, "b"), _hit(0.89, "c"), _hit(0.88, "d"), _hit(0.87, "e")])
    assert d.kind == "answer" and d.hit is not None and d.hit.entry.id == "a"
    assert [h.entry.id for h in d.candidates] == ["b", "c", "d"]
    # a runner-up further than ALSO_BAND behind is not offered
    d = decide([_hit(0.9, "a"), _hit(0.9 - ALSO_BAND - 0.01, "b")])
    assert d.kind == "answer" and d.candidates == ()
    # a near tie with margin required: もしかして with every close candidate
    d = decide([_hit(0.9, "a"), _hit(0.9, "b"), _hit(0.89, "c"), _hit(0.88, "d"), _hit(0.87, "e")], margin=0.05)
    assert d.kind == "suggest" and [h.entry.id for h in d.candidates] == ["a", "b", "c", "d"]


def test_fallback_lists_related_questions_only_above_the_floor() -> None:
    below = min(SUGGEST, CLEAR_FLOOR) - 0.01
    assert below >= RELATED_FLOOR  # the band where the bot says "I don't know" but lists related entries
    d = decide([_hit(below, "a"), _hit(below - 0.005, "b"), _hit(RELATED_FLOOR - 0.01, "c")])
    assert d.kind == "fallback" and [h.entry.id for h in d.candidates] == ["a", "b"]
    assert decide([_hit(RELATED_FLOOR - 0.01, "a")]) == Decision("fallback")


def test_decide_explicit_thresholds() -> None:
    hits = [_hit(0.55, "a"), _hit(0.4, "b"), _hit(0.1, "c")]
    assert decide(hits, confident=0.5, suggest=0.25, margin=0.05).kind == "answer"
    d = decide(hits, confident=0.6, suggest=0.25, margin=0.05, clear_floor=0.6)
    assert d.kind == "suggest" and [h.entry.id for h in d.candidates] == ["a", "b"]  # c is too weak
    assert decide(hits, confident=0.5, suggest=0.25, margin=0.2, clear_floor=0.6).kind == "suggest"
    assert decide(hits, confident=0.9, suggest=0.6, margin=0.0, clear_floor=0.9).kind == "fallback"
    assert decide(hits, confident=0.9, suggest=0.6, clear_floor=0.5, clear_ratio=1.3).kind == "answer"
    assert decide(hits, confident=0.9, suggest=0.6, clear_floor=0.5, clear_ratio=1.5).kind == "fallback"


def test_unknown_words_lower_the_score(index: FaqIndex) -> None:
    known_only = index.search("開庁時間", k=1)[0]
    with_unknown = index.search("献血車の開庁時間", k=1)[0]
    assert known_only.entry.id == with_unknown.entry.id == "hours"
    assert with_unknown.score < known_only.score


def test_scores_comparable_across_faq_sizes() -> None:
    filler = [FaqEntry(f"f{i}", f"施設{i}番の利用案内と予約方法", f"施設{i}の案内です。") for i in range(300)]
    small = FaqIndex.build(FAQ)
    large = FaqIndex.build(FAQ + filler)
    for query in ("粗大ごみの出し方を教えてください", "住民票がほしいのですが"):
        s, big = small.search(query, k=1)[0], large.search(query, k=1)[0]
        assert s.entry.id == big.entry.id
        assert abs(s.score - big.score) < 0.15, (query, s.score, big.score)


def test_concurrent_searches_agree(index: FaqIndex) -> None:
    import threading

    queries = ["大型ゴミを捨てたい", "住民票がほしい", "保育所の申し込み", "児童手当の振込日"] * 10
    expected = {q: [h.entry.id for h in index.search(q)] for q in set(queries)}
    mismatches: list[str] = []

    def work() -> None:
        for q in queries:
            if [h.entry.id for h in index.search(q)] != expected[q]:
                mismatches.append(q)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []


def test_query_vectors_match_sklearn_transform(index: FaqIndex, monkeypatch) -> None:
    """The hand-made query vector is TfidfVectorizer.transform's, without its validation cost."""
    import numpy as np

    import faq.index as fi

    monkeypatch.setattr(fi, "OOV_IN_NORM", 0.0)  # transform ignores unknown features
    queries = ["粗大ごみを捨てたい", "保育園 入りたい 保育園", "住民票の写しはコンビニで取れますか", "ソファ"]
    channels = [
        (index._words, fi._word_vectorizer(), lambda a: a[0]),
        (index._chars, fi._char_vectorizer(), lambda a: a[1]),
        (index._reads, fi._reading_vectorizer(), lambda a: a[2]),
    ]
    rows = [index._analyze(t) for e in index.entries for t in (e.question, *e.alternates)]
    for channel, vec, pick in channels:
        vec.set_params(dtype=np.float64)
        vec.fit([pick(r) for r in rows])
        for q in queries:
            doc = pick(index._analyze(q))
            idx, vals = channel._query_vector(doc)
            mine = np.zeros(len(vec.vocabulary_))
            mine[idx] = vals
            ref = vec.transform([doc]).toarray()[0]
            assert np.abs(mine - ref).max() < 1e-9
            # ... and the channel's scores are the cosine (with coverage) against the stored rows.
            mt = channel.matrix_t.astype(np.float64)
            cos = mt.T @ ref
            cov = (mt != 0).astype(np.float64).T @ (ref * ref)
            c = channel.coverage
            expected = cos ** (1 - c) * cov**c if c else cos
            assert np.abs(channel.scores(doc) - expected).max() < 1e-9
