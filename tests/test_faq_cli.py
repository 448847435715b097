"""`flask --app webhook faq …` and publishing: a broken CSV changes nothing, a good one swaps in."""

from __future__ import annotations

import json
from pathlib import Path

from bot.runtime import runtime
from tests.conftest import ROOT, post_events, text_event

SAMPLE = ROOT / "faq" / "data" / "sample_faq.csv"
USER = "U" + "2" * 32

NEW_FAQ = (
    "id,question,answer,alternates\n"
    'unicorn-001,ユニコーンの飼育許可はどこで申請しますか,"ユニコーンの飼育許可は幻獣係で申請してください。\n申請書は窓口にあります。",ユニコーン 飼いたい|幻獣の許可\n'
    "gomi-x,粗大ごみの出し方,粗大ごみは新しい受付センターへ。\n"
)


def test_validate_lists_every_error_with_line_and_column(runner, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\na,質問1,\na,質問2,答え\n,質問3,答え\n", encoding="utf-8")
    result = runner.invoke(args=["faq", "validate", str(bad)])
    assert result.exit_code != 0
    out = result.output
    assert "line 2, column answer" in out
    assert "line 3, column id" in out  # duplicate id
    assert "line 4, column id" in out  # empty id


def test_validate_accepts_the_sample(runner):
    result = runner.invoke(args=["faq", "validate", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_broken_publish_keeps_the_old_faq_answering(app, client, emulator, runner, tmp_path: Path):
    rt = runtime(app)
    before = rt.faq.current().version
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"id,question\nx,y\n")
    result = runner.invoke(args=["faq", "publish", str(bad)])
    assert result.exit_code != 0 and "line" in result.output
    from store import core

    assert core.published_faq_version(rt.store.db) == before
    post_events(client, [text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER))])
    assert "粗大ごみ" in emulator.messages(to=USER)[-1]["message"]["text"]


def test_publish_swaps_the_index_without_restart(app, client, emulator, runner, tmp_path: Path):
    rt = runtime(app)
    first = rt.faq.current().version
    new = tmp_path / "new.csv"
    new.write_text(NEW_FAQ, encoding="cp932")  # Excel's Shift_JIS
    result = runner.invoke(args=["faq", "publish", str(new), "--by", "tanaka"])
    assert result.exit_code == 0, result.output
    assert rt.faq.wait_for(first + 1, timeout=30)
    post_events(client, [text_event(USER, "ユニコーンを飼いたいんですが", emulator.mint_token(USER))])
    assert "幻獣係" in emulator.messages(to=USER)[-1]["message"]["text"]
    # and rolling back brings the old answers back
    assert runner.invoke(args=["faq", "rollback", str(first)], input="y\n").exit_code == 0
    assert rt.faq.wait_for(first, timeout=30)


def test_eval_json_has_the_contract_keys(runner, tmp_path: Path):
    q = tmp_path / "q.csv"
    q.write_text("query,expected\n粗大ごみを出したい,\nzzzz qqqq,\n", encoding="utf-8")
    result = runner.invoke(args=["faq", "eval", str(q), "--faq", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert {
        "n",
        "hit_at_1",
        "hit_at_3",
        "hit_at_5",
        "mrr",
        "answer_accuracy",
        "no_answer_n",
        "no_answer_accuracy",
    } <= set(metrics)
    assert metrics["no_answer_n"] == 2


def test_ask_shows_ranked_candidates(runner):
    result = runner.invoke(args=["faq", "ask", "マイナンバーカードをなくした"])
    assert result.exit_code == 0, result.output
    assert "decision" in result.output and "1." in result.output
