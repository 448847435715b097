"""The published FAQ in a running process: used by the first question after a publish or
rollback, one ranking for the bot and `faq ask`, NFKC before every stage, stale embedding
jobs stopped."""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import pytest

from bot import faq_runtime as runtime_mod
from bot.faq_runtime import FaqRuntime
from bot.runtime import runtime
from faq import semantic
from faq.model import FaqEntry
from store import Store
from store import core as core_store
from tests.conftest import ROOT, post_events, text_event

USER = "U" + "7" * 32
SAMPLE = ROOT / "faq" / "data" / "sample_faq.csv"


def _ask_bot(client, emulator, text: str) -> str:
    post_events(client, [text_event(USER, text, emulator.mint_token(USER))])
    return emulator.messages(to=USER)[-1]["message"]["text"]


def _unicorn_version(db, publish: bool) -> int:
    entries = [
        {
            "id": "unicorn-001",
            "question": "ユニコーンの飼育許可はどこで申請しますか",
            "answer": "幻獣係で申請してください。",
        }
    ] + core_store.faq_version_entries(db, core_store.published_faq_version(db))
    return core_store.create_faq_version(db, entries, created_by="t", source_name="t.csv", publish=publish)


def test_first_question_after_publish_and_rollback_uses_it(app, client, emulator):
    rt = runtime(app)
    db = rt.store.db
    first = rt.faq.current().version
    rt.faq.wait_semantic(timeout=600)  # the published FAQ is embedded (as in a warm process)
    assert "幻獣係" not in _ask_bot(client, emulator, "ユニコーンの飼育許可はどこで申請しますか")
    new = _unicorn_version(db, publish=True)
    # No waiting: the very next question is answered by the new version ...
    assert "幻獣係" in _ask_bot(client, emulator, "ユニコーンの飼育許可はどこで申請しますか")
    assert rt.faq.current().version == new
    semantic_on = rt.faq.semantic and semantic.available()
    # A new entry has a few texts to embed: done before answering (INLINE_EMBED_MAX).
    assert (rt.faq.current().index.semantic is not None) == semantic_on
    # ... and the first question after a rollback by the old one, its semantic stage attached at
    # once (every text is in the embedding cache: nothing to compute).
    core_store.publish_faq_version(db, first)
    assert "幻獣係" not in _ask_bot(client, emulator, "ユニコーンの飼育許可はどこで申請しますか")
    published = rt.faq.current()
    assert published.version == first
    assert (published.index.semantic is not None) == semantic_on


def test_rollback_reuses_the_lexical_index_and_keeps_each_versions_semantic_stage_apart(tmp_path, monkeypatch):
    store = Store(f"sqlite:///{tmp_path / 'faq.db'}")
    rt = FaqRuntime(store, SAMPLE, semantic=False)
    first = rt.current()
    _unicorn_version(store.db, publish=True)
    assert rt.current().index.get("unicorn-001") is not None
    built = []
    real_build = runtime_mod.FaqIndex.build
    monkeypatch.setattr(
        runtime_mod.FaqIndex, "build", staticmethod(lambda *a, **kw: built.append(1) or real_build(*a, **kw))
    )
    core_store.publish_faq_version(store.db, first.version)
    rolled_back = rt.current()
    assert rolled_back.version == first.version and built == []  # same content: nothing fitted again
    assert rolled_back.index.get("unicorn-001") is None
    assert rolled_back.search("粗大ごみを出したい")[0].entry.id == first.search("粗大ごみを出したい")[0].entry.id
    # Each build has its own index object: a semantic stage attached to one is not on another.
    other = FaqRuntime(store, SAMPLE, semantic=False).current()
    assert len({id(first.index), id(rolled_back.index), id(other.index)}) == 3 and built == []
    # Changed content is fitted.
    entries = core_store.faq_version_entries(store.db, first.version)
    entries[0] = {**entries[0], "answer": entries[0]["answer"] + "（更新）"}
    core_store.create_faq_version(store.db, entries, created_by="t", source_name="t.csv", publish=True)
    assert rt.current().index.entries[0].answer.endswith("（更新）") and built == [1]


def test_questions_during_a_build_wait_for_it_instead_of_building_again(tmp_path: Path, monkeypatch):
    store = Store(f"sqlite:///{tmp_path / 'faq.db'}")
    rt = FaqRuntime(store, SAMPLE, semantic=False)
    v1 = rt.current().version
    _unicorn_version(store.db, publish=True)
    builds = []
    real_build = rt.build

    def slow_build(version):
        builds.append(version)
        time.sleep(0.3)
        return real_build(version)

    monkeypatch.setattr(rt, "build", slow_build)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(rt.current().version)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [v1 + 1] and seen == [v1 + 1] * 4


def test_a_version_that_cannot_be_built_keeps_the_old_one_answering(tmp_path: Path, monkeypatch, caplog):
    store = Store(f"sqlite:///{tmp_path / 'faq.db'}")
    rt = FaqRuntime(store, SAMPLE, semantic=False)
    v1 = rt.current().version
    _unicorn_version(store.db, publish=True)
    calls = []

    def broken(version):
        calls.append(version)
        raise ValueError("index cannot be built")

    monkeypatch.setattr(rt, "build", broken)
    with caplog.at_level(logging.ERROR):
        assert rt.current().version == v1
        assert rt.current().version == v1
    assert len(calls) == 1  # retried after BUILD_RETRY_SECONDS, not on every question
    assert "still serving" in caplog.text


def test_half_width_katakana_ranks_like_full_width(app):
    rt = runtime(app).faq
    published = rt.current()
    rt.wait_semantic(timeout=600)
    half = published.rank("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ 再発行", lang="ja")
    full = published.rank("マイナンバーカード 再発行", lang="ja")
    assert [(h.entry.id, round(h.score, 6)) for h in half.hits] == [(h.entry.id, round(h.score, 6)) for h in full.hits]
    assert half.decision.kind == "answer" and half.decision.hit.entry.id == "mynumber-004"


def test_faq_ask_and_the_live_bot_give_the_same_answer(app, client, emulator, runner):
    rt = runtime(app).faq
    rt.current()
    rt.wait_semantic(timeout=600)
    for question in ("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ 再発行", "粗大ごみを出したい", "保育園に入りたい"):
        out = runner.invoke(args=["faq", "ask", question]).output
        decision = re.search(r"decision = (\w+)", out).group(1)
        top_id = re.search(r"^1\. [\d.]+\s+(\S+)", out, re.M).group(1)
        if rt.semantic and semantic.available():
            assert "semantic+lexical" in out
        reply = _ask_bot(client, emulator, question)
        entry = rt.current().index.get(top_id)
        if decision == "answer":
            assert entry.answer.splitlines()[0][:30] in reply, (question, top_id)
        assert top_id != "kokuho-009" or question != "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ 再発行"


@pytest.mark.skipif(not semantic.available(), reason="embedding engine not installed")
def test_superseded_version_stops_embedding(tmp_path: Path, monkeypatch, caplog):
    """A large upload embeds in the background; publishing another version stops that job."""
    monkeypatch.setattr(runtime_mod, "STALE_CHECK_SECONDS", 0.05)
    store = Store(f"sqlite:///{tmp_path / 'faq.db'}")
    rt = FaqRuntime(store, SAMPLE, semantic=True, embeddings_dir=tmp_path / "embeddings")
    v1 = rt.current().version
    rt.wait_semantic(timeout=600)
    stamp = time.time_ns()
    big = [
        FaqEntry(
            f"big-{i}", f"架空の手続きその{i}番（{stamp}）について", f"窓口{i}番で受け付けます（{stamp}）。"
        ).to_dict()
        for i in range(150)
    ]
    big_version = core_store.create_faq_version(store.db, big, created_by="t", source_name="big.csv", publish=True)
    assert rt.current().version == big_version
    cache = rt._cache()
    before = cache.embedded
    time.sleep(0.3)  # the background job has started embedding 300 new texts
    with caplog.at_level(logging.INFO):
        # Rolled back in another process: this worker gets no question, its job notices anyway.
        core_store.publish_faq_version(store.db, v1)
        assert rt.wait_semantic(timeout=30)
    done = cache.embedded - before
    assert 0 < done < 300, done
    assert "stopped: another version was published" in caplog.text
