"""faq.semantic: the e5 stage finds paraphrases, caches embeddings, never blocks serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.faq_runtime import FaqRuntime
from faq import semantic
from faq.decide import decide
from faq.index import FaqIndex
from faq.model import FaqEntry
from faq.synonyms import Synonyms
from store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "faq" / "data" / "sample_faq.csv"

FAQ = [
    FaqEntry(
        "sodai",
        "粗大ごみの出し方を教えてください",
        "粗大ごみ受付センターへ電話またはインターネットで申し込んでください。",
        category="ごみ",
    ),
    FaqEntry(
        "gomi-day", "ごみの収集日はいつですか", "地域ごとの収集日はごみカレンダーで確認できます。", category="ごみ"
    ),
    FaqEntry(
        "juminhyo", "住民票の写しを取りたい", "区役所の窓口またはコンビニ交付を利用できます。", category="戸籍・住民票"
    ),
    FaqEntry(
        "hoiku",
        "保育園に入るにはどうすればいいですか",
        "入園申込書を子ども家庭課に提出してください。",
        category="子育て",
    ),
    FaqEntry("inkan", "印鑑登録をしたい", "登録する印鑑と本人確認書類を持って窓口へ。", category="戸籍・住民票"),
    FaqEntry("kenshin", "健康診断を受けたい", "区の健康診査は40歳以上の方が対象です。", category="健康"),
]


TINY_CSV = (
    "id,question,answer,category\n"
    "sodai,粗大ごみの出し方,粗大ごみ受付センターへ申し込んでください。,ごみ\n"
    "juminhyo,住民票の写しを取りたい,区役所の窓口で取れます。,戸籍・住民票\n"
    "hoiku,保育園に入りたい,子ども家庭課に申し込んでください。,子育て\n"
)


@pytest.fixture
def fresh_process():
    """Forget in-memory vectors like a new process; give them back afterwards (other tests' apps)."""
    saved = dict(semantic._MEMORY)
    semantic.clear_memory()
    yield
    semantic._MEMORY.update(saved)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def small(cache_dir: Path) -> FaqIndex:
    return FaqIndex.build(FAQ, Synonyms.load()).build_semantic(semantic.EmbeddingCache(cache_dir))


def test_paraphrase_without_shared_words_is_found(small: FaqIndex) -> None:
    query = "ソファを処分したい"
    lexical = FaqIndex.build(FAQ, Synonyms.load())
    lex_hits = lexical.search(query)
    assert not lex_hits or lex_hits[0].entry.id != "sodai" or decide(lex_hits).kind == "fallback"
    hits = small.search(query)
    assert hits[0].entry.id == "sodai"
    assert hits[0].score > hits[1].score + 0.05  # a clear first place, not a tie


def test_fused_scores_stay_in_unit_range_and_out_of_scope_falls_back(small: FaqIndex) -> None:
    for q in ("明日の天気は晴れますか", "ソファを処分したい", "住民票"):
        s = small.scores(q)
        assert s.shape == (len(FAQ),) and (s >= 0).all() and (s <= 1).all()
    assert decide(small.search("明日の天気は晴れますか")).kind == "fallback"
    assert small.scores("！！！").max() == 0.0  # nothing to look for: no embedding either


def test_confident_lexical_match_skips_the_embedding(small: FaqIndex) -> None:
    before = small.semantic_queries
    hits = small.search("住民票の写しを取りたい")
    assert hits[0].entry.id == "juminhyo"
    assert small.semantic_queries == before


def test_a_busy_bot_embeds_fewer_questions(small: FaqIndex) -> None:
    from faq import index as faq_index

    query = "保育園 申し込み"
    lex = np.sort(small.lexical_scores(query))[::-1]
    # lexically fairly sure: above the busy gate, below the thorough one
    assert faq_index.BUSY_GATE <= lex[0] < faq_index.SEMANTIC_GATE
    assert lex[0] - lex[1] >= faq_index.BUSY_GATE_MARGIN
    before = small.semantic_queries
    busy = small.search(query, thorough=False)
    assert small.semantic_queries == before and not busy[0].semantic
    thorough = small.search(query)
    assert small.semantic_queries == before + 1 and thorough[0].semantic
    assert busy[0].entry.id == thorough[0].entry.id == "hoiku"


def test_second_build_embeds_nothing(cache_dir: Path, fresh_process: None) -> None:
    entries = FAQ[:3]
    first = semantic.EmbeddingCache(cache_dir)
    a = FaqIndex.build(entries).build_semantic(first)
    assert first.embedded == 0  # the module fixture already persisted these texts
    semantic.clear_memory()
    changed = [*entries[:2], FaqEntry("new", "犬の登録をしたい", "保健所で登録します。")]
    second = semantic.EmbeddingCache(cache_dir)
    b = FaqIndex.build(changed).build_semantic(second)
    assert second.embedded == 2  # only the new entry's question and answer
    assert np.array_equal(a.semantic.matrix[:2], b.semantic.matrix[:2])


def test_runtime_serves_lexically_while_the_semantic_stage_builds(tmp_path: Path, fresh_process: None) -> None:
    faq_csv = tmp_path / "faq.csv"
    faq_csv.write_text(TINY_CSV, encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'faq.db'}")
    runtime = FaqRuntime(store, faq_csv, synonyms_csv=ROOT / "data" / "synonyms.csv", semantic=True)
    assert runtime.embeddings_dir == tmp_path / "embeddings"
    with semantic._engine_lock:  # the engine is busy: embedding cannot finish
        published = runtime.current()
        assert published.index.semantic is None
        hits = published.search("粗大ごみを出したい")
        assert hits and "粗大" in hits[0].entry.question
    assert runtime.wait_semantic(timeout=60)
    assert published.index.semantic is not None
    assert (tmp_path / "embeddings" / semantic.CACHE_FILE).exists()
    # The same version built again (another worker, a restart) embeds nothing.
    semantic.clear_memory()
    again = FaqRuntime(store, faq_csv, synonyms_csv=ROOT / "data" / "synonyms.csv", semantic=True)
    again.current()
    assert again.wait_semantic(timeout=60)
    assert again._cache().embedded == 0 and again.current().index.semantic is not None


def test_semantic_switch_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime import runtime
    from webhook import create_app

    monkeypatch.setenv("MADOGUCHI_SEMANTIC", "0")
    app = create_app({"DEV_MODE": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'faq.db'}"})
    faq = runtime(app).faq
    assert faq.semantic is False
    assert faq.current().index.semantic is None


_WORKER = """
import sys
sys.path.insert(0, {root!r})
from faq import semantic
from faq.index import FaqIndex
from faq.model import FaqEntry
entries = [FaqEntry(f"e{{i}}", f"質問その{{i}}について教えてください", f"回答その{{i}}です。") for i in range(12)]
cache = semantic.EmbeddingCache({directory!r})
FaqIndex.build(entries).build_semantic(cache)
print(cache.embedded)
"""


@pytest.mark.slow  # three processes each load the embedding model
def test_workers_starting_together_embed_each_text_once(tmp_path: Path) -> None:
    """Two fresh processes (gunicorn workers) build the same FAQ at once: one embeds, one reads."""
    import subprocess
    import sys

    script = _WORKER.format(root=str(ROOT), directory=str(tmp_path / "embeddings"))
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        counts.append(int(out.strip().splitlines()[-1]))
    assert sorted(counts) == [0, 24]  # 12 questions + 12 answers, embedded by exactly one process
    keys = np.load(tmp_path / "embeddings" / semantic.CACHE_FILE)["keys"]
    assert len(keys) == 24
