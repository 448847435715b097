"""Surveys: the CLI contract, sending through the outbox to linesim, answering by tapping, results."""

from __future__ import annotations

import json
import random

import pytest

from outbox import sender
from store import residents as resident_store
from store import surveys as survey_store
from surveys import service
from tests.conftest import create_accounts, post_events, tap, text_event

pytestmark = pytest.mark.both_engines


def residents(rt, n, area="midori-1", lang="ja", start=0):
    users = [f"U{start + i:032x}" for i in range(n)]
    resident_store.bulk_add_residents(rt.store.db, [{"user_id": u, "area": area, "lang": lang} for u in users])
    return users


def last_id(output: str) -> int:
    return int(output.strip().splitlines()[-1])


def buttons(emulator, user):
    """The quick-reply postbacks of the newest message the user received."""
    msg = emulator.messages(user)[-1]["message"]
    return [(i["action"]["label"], i["action"]["data"]) for i in msg.get("quickReply", {}).get("items", [])]


def test_cli_contract_create_approve_send_results_close(runner, rt, emulator, client, app):
    create_accounts(app, tanaka="admin", suzuki="approver")  # the approver is always a real account
    users = residents(rt, 30) + residents(rt, 10, area="wakaba-1", start=100)
    args = ["survey", "create", "--question", "窓口の対応はいかがでしたか", "--option", "満足", "--option", "ふつう"]
    out = runner.invoke(args=[*args, "--option", "不満", "--area", "みどり一丁目", "--by", "tanaka"])
    assert out.exit_code == 0, out.output
    survey_id = last_id(out.output)
    refused = runner.invoke(args=["survey", "approve", str(survey_id), "--by", "tanaka"])
    assert refused.exit_code != 0 and "作成した本人は承認できません" in refused.output
    assert runner.invoke(args=["survey", "approve", str(survey_id), "--by", "suzuki"]).exit_code == 0
    sent = runner.invoke(args=["survey", "send", str(survey_id)])
    assert sent.exit_code == 0, sent.output
    assert "送信済み 30 人" in sent.output  # みどり一丁目 only
    assert emulator.texts(users[-1]) == []
    # Running send again resumes: nothing is sent twice.
    again = runner.invoke(args=["survey", "send", str(survey_id)])
    assert "送信済み 30 人" in again.output
    assert sum(len(emulator.messages(u)) for u in users[:30]) == 30

    label, data = buttons(emulator, users[0])[1]
    assert label == "ふつう"
    assert "ありがとうございました" in tap(client, emulator, data, users[0])[-1]["text"]
    res = json.loads(runner.invoke(args=["survey", "results", str(survey_id), "--json"]).output)
    assert res["sent"] == 30 and res["answered"] == 1 and res["counts"] == {"満足": 0, "ふつう": 1, "不満": 0}

    assert runner.invoke(args=["survey", "close", str(survey_id), "--by", "tanaka"]).exit_code == 0
    assert "受付は終了しました" in tap(client, emulator, buttons(emulator, users[1])[0][1], users[1])[-1]["text"]
    assert json.loads(runner.invoke(args=["survey", "results", str(survey_id), "--json"]).output)["answered"] == 1


def test_fourteen_options_are_refused_with_the_reason(runner):
    opts = [x for i in range(14) for x in ("--option", f"選択肢{i}")]
    out = runner.invoke(args=["survey", "create", "--question", "どれ？", *opts, "--by", "tanaka"])
    assert out.exit_code != 0 and "選択肢は 2〜13 個です（14 個" in out.output and "13 個まで" in out.output


@pytest.mark.slow  # about 700 webhook events
def test_three_hundred_residents_tap_some_twice_some_change_results_exact(rt, emulator, client):
    db = rt.store.db
    users = residents(rt, 300)
    q = service.make_question("single", "新しい図書館に欲しいものは？", ["自習室", "カフェ", "子ども室"])
    survey_id = service.create(db, "図書館アンケート", [q], "tanaka")
    service.approve(db, survey_id, "suzuki")
    from bot.handlers.surveys import invitation

    assert service.start_sending(db, survey_id, "tanaka", invitation) == 300
    sender.deliver_due(rt.store, rt.line)
    rng = random.Random(7)
    final: dict[str, int] = {}
    for user in users[:240]:
        options = buttons(emulator, user)
        choice = rng.randrange(3)
        tap(client, emulator, options[choice][1], user)
        if rng.random() < 0.2:  # tapped twice
            tap(client, emulator, options[choice][1], user)
        if rng.random() < 0.2:  # changed their mind: the later tap wins
            choice = (choice + 1) % 3
            tap(client, emulator, options[choice][1], user)
        final[user] = choice
    res = service.results(db, survey_id)
    want = {label: sum(1 for c in final.values() if c == i) for i, label in enumerate(["自習室", "カフェ", "子ども室"])}
    assert res["answered"] == 240 and res["counts"] == want and res["sent"] == 300
    assert res["questions"][0]["by_area"]["midori-1"] == {k: v for k, v in want.items() if v}


def test_a_tap_by_someone_the_survey_was_not_sent_to_answers_for_nobody(rt, emulator, client):
    db = rt.store.db
    asked = residents(rt, 2)
    outsider = residents(rt, 1, area="wakaba-1", start=50)[0]
    q = service.make_question("single", "公園の清掃は十分ですか", ["はい", "いいえ"])
    survey_id = service.create(db, "公園", [q], "tanaka", areas=["midori-1"])
    service.approve(db, survey_id, "suzuki")
    from bot.handlers.surveys import invitation

    service.start_sending(db, survey_id, "tanaka", invitation)
    sender.deliver_due(rt.store, rt.line)
    data = buttons(emulator, asked[0])[0][1]  # a forwarded button carries no user: the tapper answers
    assert "お送りした方だけ" in tap(client, emulator, data, outsider)[-1]["text"]
    assert service.results(db, survey_id)["answered"] == 0
    # A forged postback with absurd numbers is an unknown survey, not a crash.
    assert "見つかりませんでした" in tap(client, emulator, "a=sv&s=99999999999999999999&q=0&o=0", asked[0])[-1]["text"]
    assert "見つかりませんでした" in tap(client, emulator, f"a=sv&s={survey_id}&q=0&o=7", asked[0])[-1]["text"]


def test_every_question_kind_one_at_a_time_with_free_text(rt, emulator, client):
    db = rt.store.db
    user = residents(rt, 1, lang="en")[0]
    questions = [
        service.make_question(
            "single",
            "よく使う施設は？",
            ["図書館", "体育館"],
            {"en": {"text": "Which facility?", "options": ["Library", "Gym"]}},
        ),
        service.make_question("multi", "知っている制度は？", ["児童手当", "医療費助成", "保育料無償化"]),
        service.make_question("rating", "満足度は？"),
        service.make_question("text", "ご意見をどうぞ"),
    ]
    survey_id = service.create(db, "区民意識調査", questions, "tanaka")
    service.approve(db, survey_id, "suzuki")
    from bot.handlers.surveys import invitation

    service.start_sending(db, survey_id, "tanaka", invitation)
    sender.deliver_due(rt.store, rt.line)
    first = emulator.texts(user)[-1]
    assert "[Survey]" in first and "Which facility?" in first and "(1/4)" in first
    assert [label for label, _ in buttons(emulator, user)] == ["Library", "Gym"]
    assert "(2/4)" in tap(client, emulator, buttons(emulator, user)[1][1], user)[-1]["text"]
    multi = buttons(emulator, user)
    tap(client, emulator, multi[0][1], user)
    tap(client, emulator, buttons(emulator, user)[2][1], user)
    assert [label for label, _ in buttons(emulator, user)][:3] == ["✓ 児童手当", "医療費助成", "✓ 保育料無償化"]
    assert "(3/4)" in tap(client, emulator, buttons(emulator, user)[-1][1], user)[-1]["text"]  # Done
    assert "(4/4)" in tap(client, emulator, buttons(emulator, user)[4][1], user)[-1]["text"]  # rating 5
    token = emulator.mint_token(user)
    post_events(client, [text_event(user, "駅前に駐輪場を増やしてください🚲", token)])
    assert "Thank you for answering" in emulator.texts(user)[-1]
    res = service.results(db, survey_id)
    counts = [q["counts"] for q in res["questions"]]
    assert counts[0] == {"図書館": 0, "体育館": 1}
    assert counts[1] == {"児童手当": 1, "医療費助成": 0, "保育料無償化": 1}
    assert counts[2]["5"] == 1 and res["questions"][3]["texts"] == ["駅前に駐輪場を増やしてください🚲"]
    assert res["questions"][0]["by_lang"] == {"en": {"体育館": 1}}
    assert survey_store.get_pending(db, user, 3600) is None


def test_monthly_limit_stops_the_survey_and_says_so(rt, emulator, runner, app):
    create_accounts(app, tanaka="staff", suzuki="approver")
    db = rt.store.db
    residents(rt, 3)
    out = runner.invoke(
        args=["survey", "create", "--question", "Q", "--option", "A", "--option", "B", "--by", "tanaka"]
    )
    survey_id = last_id(out.output)
    assert runner.invoke(args=["survey", "approve", str(survey_id), "--by", "suzuki"]).exit_code == 0
    emulator.faults(monthly_limit=True)
    sent = runner.invoke(args=["survey", "send", str(survey_id)])
    assert sent.exit_code == 0 and "停止 3 人" in sent.output and "今月の送信上限" in sent.output
    assert service.results(db, survey_id)["sent"] == 0


def test_unfollow_forgets_who_was_asked_but_keeps_anonymous_answers(rt, emulator, client):
    db = rt.store.db
    user = residents(rt, 1)[0]
    q = service.make_question("single", "Q", ["A", "B"])
    survey_id = service.create(db, "T", [q], "tanaka")
    service.approve(db, survey_id, "suzuki")
    from bot.handlers.surveys import invitation

    service.start_sending(db, survey_id, "tanaka", invitation)
    sender.deliver_due(rt.store, rt.line)
    tap(client, emulator, buttons(emulator, user)[0][1], user)
    resident_store.delete_resident(db, user)
    assert not survey_store.is_recipient(db, survey_id, user)
    assert service.results(db, survey_id)["answered"] == 1
    rows = survey_store.answers(db, survey_id)
    assert user not in json.dumps(rows)
