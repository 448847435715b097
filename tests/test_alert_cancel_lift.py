"""取消 (a mistake: one person, after a confirmation, fixed text only) and 解除 (the order ends:
an Update in every language, approved by a second person) — through the CLI and linesim."""

from __future__ import annotations

import json

import pytest

from alerts import service
from common.i18n import LANGUAGES
from store import audit
from store import residents as resident_store
from tests.conftest import create_accounts, deliver_alerts

EVIL = "【緊急】…今すぐ桜ヶ丘中学校へ避難してください https://evil.example/"


@pytest.fixture
def rt(app, rt):
    # The approver of the two-person rule is always a real approver account (tanaka may do everything).
    create_accounts(app, tanaka="admin", suzuki="approver")
    return rt


def _cli(runner, *args, input=None, ok=True):
    out = runner.invoke(args=list(args), input=input)
    if ok:
        assert out.exit_code == 0, out.output
    return out


def _sent_order(rt, runner, template="evac_level4", extra=()):
    resident_store.bulk_add_residents(
        rt.store.db,
        [
            {"user_id": "Uja1", "lang": "ja", "area": "midori-1"},
            {"user_id": "Uen1", "lang": "en", "area": "midori-1"},
            {"user_id": "Ueasy", "lang": "easy", "area": "midori-1"},
            {"user_id": "Uko1", "lang": "ko", "area": None},
            {"user_id": "Uaway", "lang": "ja", "area": "wakaba-1"},
        ],
    )
    out = _cli(
        runner,
        "alert",
        "create",
        "--template",
        template,
        "--field",
        "areas=みどり一丁目",
        "--field",
        "hazard=洪水",
        "--area",
        "midori-1",
        *extra,
        "--by",
        "tanaka",
    )
    alert_id = out.output.strip().splitlines()[-1]
    _cli(runner, "alert", "approve", alert_id, "--by", "suzuki")
    _cli(runner, "alert", "send", alert_id)
    return alert_id


def test_free_text_cancel_needs_a_second_person(rt, runner, emulator):
    """The probe's attack: one operator (the author) cancels with their own words and a link."""
    alert_id = _sent_order(rt, runner)
    before = len(emulator.messages())
    out = _cli(runner, "alert", "cancel", alert_id, "--body", EVIL, "--by", "tanaka", "--yes")
    cancel_id = out.output.strip().splitlines()[-1]
    assert cancel_id.isdigit() and cancel_id != alert_id and "承認が必要" in out.output
    assert len(emulator.messages()) == before  # nothing went out
    assert service.get_alert(rt.store.db, int(cancel_id))["state"] == "draft"
    # The same person cannot approve it (nor under another spelling) and it cannot be sent unapproved.
    for same in ("tanaka", "Tanaka", "ｔａｎａｋａ"):
        refused = _cli(runner, "alert", "approve", cancel_id, "--by", same, ok=False)
        assert refused.exit_code != 0 and "別の担当者" in refused.output
    refused = _cli(runner, "alert", "send", cancel_id, ok=False)
    assert refused.exit_code != 0 and "承認されていません" in refused.output
    deliver_alerts(rt, cancel_id)
    assert len(emulator.messages()) == before
    assert not any("evil.example" in m["message"]["text"] for m in emulator.messages())
    # The original is not cancelled by a draft: it still counts as live.
    assert service.status(rt.store.db, int(alert_id))["cancelled_by"] is None
    # Anyone who may cancel can withdraw such a draft (it never went out).
    other = service.cancel(rt.store.db, int(alert_id), "sato", body="別の説明")
    assert service.cancel(rt.store.db, other, "sato") == other
    assert service.get_alert(rt.store.db, other)["state"] == "withdrawn"
    # A second person who reads it and approves: then it goes, to exactly the original's recipients.
    _cli(runner, "alert", "approve", cancel_id, "--by", "suzuki")
    _cli(runner, "alert", "send", cancel_id)
    assert sorted(m["to"] for m in emulator.messages() if "evil.example" in m["message"]["text"]) == [
        "Ueasy",
        "Uen1",
        "Uja1",
        "Uko1",
    ]


def test_fixed_cancel_shows_text_and_count_then_asks(rt, runner, emulator):
    alert_id = _sent_order(rt, runner)
    before = len(emulator.messages())
    # No confirmation (a script without --yes, or the operator answers no): nothing happens.
    out = _cli(runner, "alert", "cancel", alert_id, "--by", "suzuki", input="n\n", ok=False)
    assert out.exit_code != 0
    assert "取消のお知らせを受け取る人: 4人" in out.output
    assert "【取消】先ほどのお知らせ「【警戒レベル4】避難指示」は、誤って送信したものです" in out.output
    assert "CANCELLED" in out.output  # the English text shown too
    assert service.status(rt.store.db, int(alert_id))["cancelled_by"] is None
    deliver_alerts(rt, alert_id)
    assert len(emulator.messages()) == before
    with pytest.raises(service.CancelNotConfirmed):
        service.cancel(rt.store.db, int(alert_id), "suzuki")

    out = _cli(runner, "alert", "cancel", alert_id, "--by", "suzuki", input="y\n")
    cancel_id = out.output.strip().splitlines()[-1]
    assert cancel_id.isdigit() and cancel_id != alert_id
    _cli(runner, "alert", "send", cancel_id)  # the printed id is what alert send takes
    st = json.loads(_cli(runner, "alert", "status", cancel_id, "--json").output)
    assert (st["total"], st["sent"], st["kind"]) == (4, 4, "cancel")
    cancels = [m for m in emulator.messages() if m["message"]["text"].startswith("【取消】")]
    assert sorted(m["to"] for m in cancels) == ["Ueasy", "Uen1", "Uja1", "Uko1"]
    # Audited with who and how many.
    entry = [e for e in audit.entries(rt.store.db, target=f"alert:{alert_id}") if e["action"] == "alert.cancel"][0]
    assert entry["actor"] == "suzuki" and json.loads(entry["detail"])["recipients"] == 4
    again = _cli(runner, "alert", "cancel", alert_id, "--by", "suzuki", "--yes", ok=False)
    assert again.exit_code != 0 and "すでに取り消されています" in again.output


def test_cancel_with_yes_prints_the_id_last(rt, runner, emulator):
    alert_id = _sent_order(rt, runner)
    out = _cli(runner, "alert", "cancel", alert_id, "--by", "tanaka", "--yes")
    cancel_id = int(out.output.strip().splitlines()[-1])
    deliver_alerts(rt, cancel_id)
    assert service.status(rt.store.db, cancel_id)["sent"] == 4
    listing = _cli(runner, "alert", "list").output
    line = [x for x in listing.splitlines() if x.strip().startswith(str(cancel_id))][0]
    assert f"取消：#{alert_id}「【警戒レベル4】避難指示」" in line


def test_lift_is_an_approved_update_in_every_language(rt, runner, emulator):
    alert_id = _sent_order(rt, runner)
    db = rt.store.db
    assert len(service.active_alerts_for(db, "midori-1")) == 1
    out = _cli(runner, "alert", "lift", alert_id, "--by", "tanaka")
    lift_id = out.output.strip().splitlines()[-1]
    lift = service.get_alert(db, int(lift_id))
    assert (lift["msg_type"], lift["references_id"], lift["kind"], lift["state"]) == (
        "update",
        int(alert_id),
        "lift",
        "draft",
    )
    assert set(lift["texts"]) == set(LANGUAGES)
    every = json.dumps(lift["texts"], ensure_ascii=False)
    for wrong in ("まちがい", "誤って", "訂正", "CORRECTION", "mistake", "取消"):
        assert wrong not in every, wrong
    assert lift["texts"]["ja"][0]["text"].startswith("【解除】警戒レベル4「避難指示」を解除しました")
    assert "みどり一丁目に発令していた洪水に関する" in lift["texts"]["ja"][0]["text"]
    assert lift["title"] == f"解除：#{alert_id}「【警戒レベル4】避難指示」"
    # Like any actual alert: not by its author, not unapproved.
    assert _cli(runner, "alert", "approve", lift_id, "--by", "tanaka", ok=False).exit_code != 0
    assert _cli(runner, "alert", "send", lift_id, ok=False).exit_code != 0
    again = _cli(runner, "alert", "lift", alert_id, "--by", "tanaka", ok=False)
    assert again.exit_code != 0 and f"#{lift_id}" in again.output
    _cli(runner, "alert", "approve", lift_id, "--by", "suzuki")
    _cli(runner, "alert", "send", lift_id)
    lifted = {m["to"]: m["message"]["text"] for m in emulator.messages() if "解除" in m["message"]["text"]}
    assert sorted(lifted) == ["Ueasy", "Uen1", "Uja1", "Uko1"]
    assert "おわりました" in lifted["Ueasy"] and "has been lifted" in lifted["Uen1"]
    assert "해제" in lifted["Uko1"]
    # The order is over: disaster mode ends, and the order's page says so.
    assert service.active_alerts_for(db, "midori-1") == []
    assert service.status(db, int(alert_id))["lifted_by"] == int(lift_id)


def test_lift_refusals(rt, runner):
    alert_id = _sent_order(rt, runner)
    db = rt.store.db
    notice = service.create_alert(db, by="tanaka", headline="給水のお知らせ", body="みどり公園で給水します")
    service.approve(db, notice, "suzuki")
    service.start_delivery(db, notice, "suzuki")
    out = _cli(runner, "alert", "lift", str(notice), "--by", "tanaka", ok=False)
    assert out.exit_code != 0 and "避難情報" in out.output
    draft = service.create_alert(db, by="tanaka", template="evac_level4", fields={"areas": "x", "hazard": "洪水"})
    with pytest.raises(service.AlertError, match="取り下げ"):
        service.lift(db, draft, "tanaka")
    # A lift cannot be created as a new alert (only from the order it ends).
    with pytest.raises(service.InvalidAlert, match="解除"):
        service.create_alert(
            db, by="tanaka", template="lift", fields={"areas": "x", "order": "evac_level4", "hazard": "洪水"}
        )
    assert "lift" not in _cli(runner, "alert", "create", "--help").output.split("--template")[1].split("\n")[0]
    # A corrected order is lifted through its correction.
    fix = service.correct(db, int(alert_id), "tanaka", fields={"areas": "みどり一丁目・二丁目"})
    service.approve(db, fix, "suzuki")
    service.start_delivery(db, fix, "suzuki")
    with pytest.raises(service.AlertError, match=f"#{fix}"):
        service.lift(db, int(alert_id), "tanaka")
    lift_id = service.lift(db, fix, "tanaka")
    assert "みどり一丁目・二丁目" in service.get_alert(db, lift_id)["texts"]["ja"][0]["text"]


def test_exercise_lift_is_marked_as_a_drill(rt, runner, emulator):
    alert_id = _sent_order(rt, runner, extra=("--status", "exercise"))
    lift_id = service.lift(rt.store.db, int(alert_id), "tanaka")
    for lang, messages in service.get_alert(rt.store.db, lift_id)["texts"].items():
        assert messages[0]["text"].startswith("【訓練】") and "【解除】" in messages[0]["text"], lang


def test_a_lift_sent_by_mistake_can_be_cancelled_and_the_order_is_in_force_again(rt, runner, emulator):
    alert_id = int(_sent_order(rt, runner))
    db = rt.store.db
    lift_id = service.lift(db, alert_id, "tanaka")
    service.approve(db, lift_id, "suzuki")
    service.start_delivery(db, lift_id, "suzuki")
    deliver_alerts(rt, lift_id)
    assert service.active_alerts_for(db, "midori-1") == []
    cancel_id = service.cancel(db, lift_id, "suzuki", confirmed=True)
    deliver_alerts(rt, cancel_id)
    cancel = service.get_alert(db, cancel_id)
    assert cancel["title"].startswith(f"取消：#{lift_id}「【解除】")
    assert [a["id"] for a in service.active_alerts_for(db, "midori-1")] == [alert_id]
    texts = [m["message"]["text"] for m in emulator.messages() if m["to"] == "Uja1"]
    assert texts[-1].startswith("【取消】") and "【解除】" in texts[-1]


def test_nothing_more_goes_out_about_a_cancelled_alert(rt, runner, emulator):
    alert_id = int(_sent_order(rt, runner))
    db = rt.store.db
    lift_id = service.lift(db, alert_id, "tanaka")  # drafted, then the order turns out to be a mistake
    service.approve(db, lift_id, "suzuki")
    draft_id = service.cancel(db, alert_id, "tanaka", body="確認中です")  # free text, awaiting approval
    cancel_id = service.cancel(db, alert_id, "suzuki", confirmed=True)
    deliver_alerts(rt, cancel_id)
    with pytest.raises(service.AlreadyCancelled):
        service.start_delivery(db, lift_id, "suzuki")
    assert service.get_alert(db, draft_id)["state"] == "withdrawn"  # moot: out of the approval queue
    before = len(emulator.messages())
    deliver_alerts(rt, lift_id)
    assert len(emulator.messages()) == before
