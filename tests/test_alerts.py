"""Alerts: drafts, approval rules, drills, staleness, language groups, cancel, quota — against linesim."""

from __future__ import annotations

import json
import time

import pytest

from alerts import render, service
from bot.runtime import runtime
from store import alerts as alert_store
from store import residents as resident_store
from tests.conftest import create_accounts, deliver_alerts

pytestmark = pytest.mark.both_engines


def add(rt, *rows):
    resident_store.bulk_add_residents(rt.store.db, [dict(r) for r in rows])


def approved_alert(rt, **kw):
    kw.setdefault("by", "tanaka")
    alert_id = service.create_alert(rt.store.db, **kw)
    service.approve(rt.store.db, alert_id, "suzuki")
    return alert_id


def test_author_cannot_approve(rt):
    db = rt.store.db
    alert_id = service.create_alert(db, by="tanaka", headline="避難所を開設しました", body="みどり小学校")
    with pytest.raises(service.SelfApprovalRefused) as exc:
        service.approve(db, alert_id, "tanaka")
    assert "別の担当者" in str(exc.value)
    with pytest.raises(service.NotApproved):
        service.start_delivery(db, alert_id, "tanaka")
    service.approve(db, alert_id, "suzuki")
    service.start_delivery(db, alert_id, "tanaka")
    with pytest.raises(service.AlreadySent):
        service.start_delivery(db, alert_id, "tanaka")
    actions = [
        e["action"] for e in __import__("store.audit", fromlist=["entries"]).entries(db, target=f"alert:{alert_id}")
    ]
    assert {"alert.create", "alert.approve_refused", "alert.approve", "alert.send"} <= set(actions)


def test_drill_cannot_go_out_as_actual(rt, emulator):
    db = rt.store.db
    with pytest.raises(service.DrillAsActual):
        service.create_alert(db, by="tanaka", template="drill", fields={"scenario": "避難訓練"}, status="actual")
    with pytest.raises(service.DrillAsActual):
        service.create_alert(db, by="tanaka", headline="【訓練】避難指示", body="これは訓練です", status="actual")
    add(rt, {"user_id": "Uja", "lang": "ja"}, {"user_id": "Uen", "lang": "en"}, {"user_id": "Uko", "lang": "ko"})
    alert_id = approved_alert(
        rt, template="drill", fields={"scenario": "午前10時から避難訓練を行います。"}, status="exercise"
    )
    alert = service.get_alert(db, alert_id)
    assert alert["status"] == "exercise"
    for lang, messages in alert["texts"].items():
        assert messages[0]["text"].startswith("【訓練】"), lang
    service.start_delivery(db, alert_id, "suzuki")
    deliver_alerts(rt, alert_id)
    for uid in ("Uja", "Uen", "Uko"):
        (text,) = emulator.texts(uid)
        assert text.startswith("【訓練】") and text.count("【訓練】") == 2
    assert "DRILL" in emulator.texts("Uen")[0]
    # A test-status alert: 【テスト】 in every language, free text allowed.
    test_id = service.create_alert(db, by="tanaka", headline="配信テスト", body="テスト送信です", status="test")
    for lang in ("ja", "en", "vi"):
        assert service.preview(db, test_id)["groups"][0]["messages"][0]["text"].startswith("【テスト】")
        assert render.compose(lang, "test", "alert", "h", "b", None)[0]["text"].startswith("【テスト】")


def test_template_fields_are_validated(rt):
    db = rt.store.db
    with pytest.raises(service.InvalidAlert) as exc:
        service.create_alert(db, by="tanaka", template="earthquake", fields={"areas": "みどり区全域", "intensity": "8"})
    assert "震度" in str(exc.value)
    with pytest.raises(service.InvalidAlert):
        service.create_alert(db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目"})  # no hazard
    with pytest.raises(service.InvalidAlert):
        service.create_alert(db, by="tanaka", headline="x", body="y", areas=["存在しない町"])
    alert_id = service.create_alert(
        db,
        by="tanaka",
        template="evac_level4",
        fields={"areas": "みどり一丁目", "hazard": "洪水"},
        areas=["みどり一丁目"],
    )
    alert = service.get_alert(db, alert_id)
    assert alert["areas"] == ["midori-1"] and alert["hazard"] == "flood" and alert["level"] == 4
    assert "警戒レベル4、避難指示を発令しました" in alert["texts"]["ja"][0]["text"]
    assert "避難勧告" not in json.dumps(alert["texts"], ensure_ascii=False)


def test_stale_or_expired_alert_refused_until_reapproved(rt):
    db = rt.store.db
    alert_id = approved_alert(rt, headline="給水のお知らせ", body="みどり公園で給水を行います")
    alert_store.update_alert(db, alert_id, approved_at=time.time() - 31 * 60)
    with pytest.raises(service.AlertStale) as exc:
        service.start_delivery(db, alert_id, "suzuki")
    assert "もう一度承認" in str(exc.value)
    service.approve(db, alert_id, "suzuki")
    service.start_delivery(db, alert_id, "suzuki")

    expired = approved_alert(rt, headline="給水のお知らせ", body="若葉公園")
    alert_store.update_alert(db, expired, expires_at=time.time() - 1)
    with pytest.raises(service.AlertExpired):
        service.start_delivery(db, expired, "suzuki")
    with pytest.raises(service.AlertExpired):
        service.approve(db, expired, "suzuki")


def test_language_groups_and_targeting(rt, emulator):
    db = rt.store.db
    add(
        rt,
        {"user_id": "Uja", "lang": "ja", "area": "midori-1"},
        {"user_id": "Uen", "lang": "en", "area": "midori-1"},
        {"user_id": "Uvi", "lang": "vi", "area": "midori-1"},
        {"user_id": "Unone", "lang": None, "area": None},  # no area chosen: gets every area's alerts
        {"user_id": "Uother", "lang": "ja", "area": "wakaba-1"},
        {"user_id": "Ustop", "lang": "ja", "area": "midori-1", "delivery_stopped": True},
    )
    alert_id = approved_alert(
        rt, template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "flood"}, areas=["midori-1"]
    )
    p = service.preview(db, alert_id)
    # A level-4 order is life-safety: it also reaches the resident who sent 配信停止.
    assert p["recipient_count"] == 5
    groups = {g["resident_lang"]: g for g in p["groups"]}
    assert groups["en"]["lang"] == "en" and groups["en"]["fallback_from"] is None
    assert groups["vi"]["lang"] == "vi" and groups["vi"]["fallback_from"] is None
    assert (
        p["fallbacks"] == []
        and len(p["notes"]) == 2
        and "配信停止" in p["notes"][0]
        and "近くの避難所" in p["notes"][1]
    )
    assert groups["ja"]["count"] == 3  # Uja, Ustop and the resident with no language
    service.start_delivery(db, alert_id, "suzuki")
    deliver_alerts(rt, alert_id)
    assert "Evacuation instruction (避難指示)" in emulator.texts("Uen")[0]
    assert "Chỉ thị sơ tán (避難指示" in emulator.texts("Uvi")[0]
    assert "避難指示" in emulator.texts("Uja")[0] and len(emulator.texts("Unone")) == 1
    assert emulator.texts("Uother") == [] and len(emulator.texts("Ustop")) == 1
    st = service.status(db, alert_id)
    assert (st["total"], st["sent"], st["pending"], st["failed"], st["state"]) == (5, 5, 0, 0, "sent")


def test_cancel_reaches_exactly_the_original_recipients(rt, emulator):
    db = rt.store.db
    add(
        rt,
        *({"user_id": f"Ua{i:03d}", "lang": "ja", "area": "midori-1"} for i in range(30)),
        {"user_id": "Ub", "lang": "ja", "area": "wakaba-1"},
    )
    alert_id = approved_alert(
        rt, template="evac_level3", fields={"areas": "みどり一丁目", "hazard": "土砂災害"}, areas=["midori-1"]
    )
    service.start_delivery(db, alert_id, "suzuki", batch_size=7)
    deliver_alerts(rt, alert_id)
    assert len(service.active_alerts_for(db, "midori-1")) == 1
    assert service.active_alerts_for(db, "midori-1")[0]["hazard"] == "landslide"
    assert service.active_alerts_for(db, "wakaba-1") == []
    add(rt, {"user_id": "Ulate", "lang": "ja", "area": "midori-1"})  # joined after the alert
    cancel_id = service.cancel(db, alert_id, "tanaka", confirmed=True)  # one person, no second approval
    assert cancel_id != alert_id
    deliver_alerts(rt)
    counts = emulator.delivery_counts()
    per_user = {m["to"]: 0 for m in emulator.messages()}
    for m in emulator.messages():
        per_user[m["to"]] += 1
    assert per_user == {f"Ua{i:03d}": 2 for i in range(30)}, counts
    for i in (0, 29):
        assert emulator.texts(f"Ua{i:03d}")[1].startswith("【取消】")
    assert service.active_alerts_for(db, "midori-1") == []
    with pytest.raises(service.AlreadyCancelled):
        service.cancel(db, alert_id, "tanaka", confirmed=True)


def test_monthly_limit_stops_the_alert_plainly(app, runner, emulator):
    create_accounts(app, tanaka="admin", suzuki="approver")
    with app.app_context():
        add(runtime(app), *({"user_id": f"U{i}", "lang": "ja"} for i in range(5)))
    emulator.faults(monthly_limit=True)
    out = runner.invoke(
        args=["alert", "create", "--headline", "断水のお知らせ", "--body", "午後は断水します", "--by", "tanaka"]
    )
    assert out.exit_code == 0, out.output
    alert_id = out.output.strip().splitlines()[-1]
    assert runner.invoke(args=["alert", "approve", alert_id, "--by", "tanaka"]).exit_code != 0
    assert runner.invoke(args=["alert", "approve", alert_id, "--by", "suzuki"]).exit_code == 0
    out = runner.invoke(args=["alert", "send", alert_id])
    assert out.exit_code != 0 and "今月の送信上限" in out.output
    st = json.loads(runner.invoke(args=["alert", "status", alert_id, "--json"]).output)
    assert st["state"] == "stopped" and st["pending"] == 5 and st["sent"] == 0
    emulator.faults()  # the operator raised the limit: send again resumes
    out = runner.invoke(args=["alert", "send", alert_id])
    assert out.exit_code == 0, out.output
    st = json.loads(runner.invoke(args=["alert", "status", alert_id, "--json"]).output)
    assert (st["total"], st["sent"], st["pending"], st["failed"]) == (5, 5, 0, 0)
    assert len(emulator.messages()) == 5
    out = runner.invoke(args=["alert", "send", alert_id])
    assert out.exit_code == 0 and len(emulator.messages()) == 5  # never twice


def test_cli_create_lists_areas_by_name_and_preview(runner):
    out = runner.invoke(
        args=[
            "alert",
            "create",
            "--template",
            "shelter_open",
            "--field",
            "shelter_name=みどり小学校",
            "--field",
            "address=みどり1-2-3",
            "--field",
            "areas=みどり一丁目",
            "--area",
            "みどり一丁目",
            "--by",
            "tanaka",
        ]
    )
    assert out.exit_code == 0, out.output
    assert out.output.strip().splitlines()[-1].isdigit()
    assert "【避難所開設】みどり小学校" in out.output
    bad = runner.invoke(
        args=["alert", "create", "--headline", "h", "--body", "b", "--area", "どこか", "--by", "tanaka"]
    )
    assert bad.exit_code != 0 and "areas.csv" in bad.output
    listing = runner.invoke(args=["alert", "list"])
    assert "避難所開設" in listing.output


def test_alert_that_expires_while_sending_is_not_sent_late(rt, runner, emulator):
    db = rt.store.db
    add(rt, *({"user_id": f"Ux{i}", "lang": "ja"} for i in range(6)))
    alert_id = approved_alert(rt, headline="給水のお知らせ", body="みどり公園で給水します")
    service.start_delivery(db, alert_id, "suzuki", batch_size=2)
    # The worker was down until after the expiry: nothing goes out late.
    alert_store.update_alert(db, alert_id, expires_at=time.time() - 1)
    deliver_alerts(rt, alert_id)
    assert emulator.messages() == []
    st = service.status(db, alert_id)
    assert (st["total"], st["sent"], st["pending"], st["withdrawn"], st["state"]) == (6, 0, 0, 6, "sent")
    assert "有効期限を過ぎた" in st["message"]
    out = runner.invoke(args=["alert", "send", str(alert_id)])
    assert out.exit_code == 0 and "有効期限を過ぎた" in out.output and emulator.messages() == []

    # Stopped by the monthly quota, then expired: `alert send` does not resume it.
    emulator.faults(monthly_limit=True)
    stopped = approved_alert(rt, headline="断水のお知らせ", body="午後は断水します")
    service.start_delivery(db, stopped, "suzuki")
    deliver_alerts(rt, stopped)
    assert service.status(db, stopped)["state"] == "stopped"
    emulator.faults()
    alert_store.update_alert(db, stopped, expires_at=time.time() - 1)
    out = runner.invoke(args=["alert", "send", str(stopped)])
    assert out.exit_code != 0 and "有効期限" in out.output
    assert emulator.messages() == [] and service.status(db, stopped)["pending"] == 0
    actions = [
        e["action"] for e in __import__("store.audit", fromlist=["entries"]).entries(db, target=f"alert:{stopped}")
    ]
    assert "alert.resume_refused" in actions


def test_author_cannot_approve_under_another_spelling(rt):
    db = rt.store.db
    alert_id = service.create_alert(db, by="tanaka", headline="避難所を開設しました", body="みどり小学校")
    for same in ("Tanaka", " tanaka ", "ｔａｎａｋａ"):
        with pytest.raises(service.SelfApprovalRefused):
            service.approve(db, alert_id, same)


def test_cancel_and_correction_reference_the_original(rt, emulator):
    db = rt.store.db
    add(rt, {"user_id": "Uc1", "lang": "en", "area": "midori-1"}, {"user_id": "Uc2", "lang": "ko", "area": "midori-1"})
    alert_id = approved_alert(
        rt, template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "flood"}, areas=["midori-1"]
    )
    service.start_delivery(db, alert_id, "suzuki")
    deliver_alerts(rt, alert_id)
    fix_id = service.correct(db, alert_id, "tanaka", fields={"areas": "みどり一丁目・二丁目"})
    fix = service.get_alert(db, fix_id)
    assert (fix["msg_type"], fix["references_id"], fix["template"]) == ("update", alert_id, "evac_level4")
    with pytest.raises(service.SelfApprovalRefused):
        service.approve(db, fix_id, "tanaka")
    service.approve(db, fix_id, "suzuki")
    service.start_delivery(db, fix_id, "suzuki")
    deliver_alerts(rt, fix_id)
    en = emulator.texts("Uc1")
    assert en[1].startswith("【訂正】CORRECTION") and "[Alert Level 4] Evacuation instruction" in en[1]
    assert "みどり一丁目・二丁目" in en[1] and "피난지시" in emulator.texts("Uc2")[1]
    cancel_id = service.cancel(db, alert_id, "suzuki", body="誤って送信しました")
    assert service.get_alert(db, cancel_id)["references_id"] == alert_id
    assert service.get_alert(db, cancel_id)["state"] == "draft"  # free text: a second person approves
    service.approve(db, cancel_id, "tanaka")
    service.start_delivery(db, cancel_id, "tanaka")
    deliver_alerts(rt, cancel_id)
    assert emulator.texts("Uc2")[2].startswith("【取消】") and "피난지시" in emulator.texts("Uc2")[2]
    entries = __import__("store.audit", fromlist=["entries"]).entries(db, target=f"alert:{alert_id}")
    cancel_entry = [e for e in entries if e["action"] == "alert.cancel_draft"][0]
    assert cancel_entry["actor"] == "suzuki" and cancel_entry["at"] > 0


@pytest.mark.parametrize(("minutes", "sent"), [("5", False), ("60", True)])
def test_the_configured_staleness_reaches_the_send_command(app_config, emulator, minutes, sent):
    from webhook import create_app

    app = create_app({**app_config, "ALERT_STALE_MINUTES": minutes})  # a string, as from the environment
    create_accounts(app, tanaka="operator", suzuki="approver")
    with app.app_context():
        alert_id = approved_alert(runtime(app), headline="給水のお知らせ", body="みどり公園で給水を行います")
        alert_store.update_alert(runtime(app).store.db, alert_id, approved_at=time.time() - 10 * 60)
    out = app.test_cli_runner().invoke(args=["alert", "send", str(alert_id), "--by", "suzuki"])
    assert (out.exit_code == 0) is sent, out.output
    assert ("もう一度承認" in out.output) is not sent
