"""The staff test audience: exercise/test alerts limited to staff phones.

Through the CLI and the emulator: a test-audience exercise reaches only the testers, an
actual alert can never be limited to it, unfollow removes a tester (personal data), and
every change is in the audit log without the LINE user id.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from alerts import service
from bot.runtime import runtime
from common.pseudonym import hash_user
from store import audit
from store import residents as resident_store
from tests.conftest import create_accounts, deliver_alerts, post_events

pytestmark = pytest.mark.both_engines

TESTER_A = "U" + "a" * 32
TESTER_B = "U" + "b" * 32
NOT_FOLLOWING = "U" + "c" * 32


def _residents(rt):
    resident_store.bulk_add_residents(
        rt.store.db,
        [
            {"user_id": TESTER_A, "lang": "ja", "area": "midori-1"},
            {"user_id": TESTER_B, "lang": "en", "area": None},
            *({"user_id": f"Ures{i:02d}", "lang": "ja", "area": "midori-1"} for i in range(20)),
        ],
    )


def _cli_ok(runner, *args):
    out = runner.invoke(args=list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_test_audience_exercise_reaches_only_the_testers(rt, runner, emulator, app):
    create_accounts(app, tanaka="operator", suzuki="approver")
    _residents(rt)
    assert "追加しました" in _cli_ok(
        runner, "alert", "testers", "add", TESTER_A, "--note", "防災課 田中", "--by", "tanaka"
    )
    _cli_ok(runner, "alert", "testers", "add", TESTER_B, "--by", "tanaka")
    _cli_ok(runner, "alert", "testers", "add", NOT_FOLLOWING, "--by", "tanaka")  # a phone not (yet) following
    assert "すでに登録" in _cli_ok(runner, "alert", "testers", "add", TESTER_A, "--note", "田中", "--by", "tanaka")
    listing = _cli_ok(runner, "alert", "testers", "list")
    assert TESTER_A in listing and "計 3 人" in listing and "未登録" in listing
    rows = json.loads(_cli_ok(runner, "alert", "testers", "list", "--json"))
    assert {r["user_id"]: r["subscribed"] for r in rows} == {TESTER_A: True, TESTER_B: True, NOT_FOLLOWING: False}
    bad = runner.invoke(args=["alert", "testers", "add", "not-an-id", "--by", "tanaka"])
    assert bad.exit_code != 0 and "ユーザーID" in bad.output

    out = _cli_ok(
        runner,
        "alert",
        "create",
        "--template",
        "evac_level4",
        "--field",
        "areas=みどり一丁目",
        "--field",
        "hazard=洪水",
        "--area",
        "midori-1",
        "--status",
        "exercise",
        "--test-audience",
        "--by",
        "tanaka",
    )
    alert_id = int(out.strip().splitlines()[-1])
    assert "送信先: テスト対象者のみ" in out and "受信者数: 2" in out and "テスト対象者（登録 3 人）" in out
    p = service.preview(rt.store.db, alert_id)
    assert p["test_audience"] is True and p["recipient_count"] == 2
    _cli_ok(runner, "alert", "approve", str(alert_id), "--by", "suzuki")
    out = _cli_ok(runner, "alert", "send", str(alert_id))
    assert "【訓練】としてテスト対象者だけに送信します" in out
    assert sorted(m["to"] for m in emulator.messages()) == [TESTER_A, TESTER_B]
    assert (
        emulator.texts(TESTER_A)[0].startswith("【訓練】") and "Evacuation instruction" in emulator.texts(TESTER_B)[0]
    )
    st = service.status(rt.store.db, alert_id)
    assert (st["total"], st["sent"], st["pending"], st["failed"]) == (2, 2, 0, 0)
    # An exercise does not switch the bot into disaster mode.
    assert service.active_alerts_for(rt.store.db, "midori-1") == []

    # The cancel follows the same path: only the testers who got it.
    cancel_id = service.cancel(rt.store.db, alert_id, "tanaka", confirmed=True)
    deliver_alerts(rt, cancel_id)
    assert sorted(m["to"] for m in emulator.messages()) == [TESTER_A, TESTER_A, TESTER_B, TESTER_B]
    assert service.get_alert(rt.store.db, cancel_id)["test_audience"] == 1

    # Removing a tester: the next test alert skips that phone.
    assert "外しました" in _cli_ok(runner, "alert", "testers", "remove", TESTER_B, "--by", "suzuki")
    missing = runner.invoke(args=["alert", "testers", "remove", TESTER_B, "--by", "suzuki"])
    assert missing.exit_code != 0 and "登録されていません" in missing.output
    test_id = service.create_alert(
        rt.store.db, by="tanaka", headline="配信テスト", body="試験送信です", status="test", test_audience=True
    )
    assert service.preview(rt.store.db, test_id)["recipient_count"] == 1

    # Audit: who and when, but no LINE user id in the append-only log.
    entries = audit.entries(rt.store.db, action_prefix="alert.tester")
    assert [e["action"] for e in entries].count("alert.tester_add") == 3
    assert {"alert.tester_update", "alert.tester_remove"} <= {e["action"] for e in entries}
    dump = json.dumps(audit.entries(rt.store.db, limit=1000), ensure_ascii=False)
    assert TESTER_A not in dump and TESTER_B not in dump and NOT_FOLLOWING not in dump


def test_actual_alert_cannot_use_the_test_audience(rt, runner):
    _residents(rt)
    service.add_tester(rt.store.db, TESTER_A, "tanaka", secret="test-secret-key")
    with pytest.raises(service.AlertError) as exc:
        service.create_alert(
            rt.store.db,
            by="tanaka",
            template="evac_level4",
            fields={"areas": "みどり一丁目", "hazard": "flood"},
            test_audience=True,
        )
    assert "本番" in str(exc.value) and "テスト対象者" in str(exc.value)
    out = runner.invoke(
        args=[
            "alert",
            "create",
            "--headline",
            "断水",
            "--body",
            "午後は断水します",
            "--test-audience",
            "--by",
            "tanaka",
        ]
    )
    assert out.exit_code != 0 and "本番（actual）の警報はテスト対象者だけに送ることはできません" in out.output
    assert service.list_alerts(rt.store.db) == []
    # Without the flag an exercise goes to everyone it targets (the ordinary drill path).
    drill = service.create_alert(
        rt.store.db, by="tanaka", template="drill", fields={"scenario": "避難訓練"}, status="exercise"
    )
    assert service.preview(rt.store.db, drill)["recipient_count"] == 22


def test_unfollow_removes_the_tester(app, client, emulator):
    rt = runtime(app)
    with app.app_context():
        _residents(rt)
        service.add_tester(rt.store.db, TESTER_A, "tanaka", note="防災課", secret="test-secret-key")
        service.add_tester(rt.store.db, TESTER_B, "tanaka", secret="test-secret-key")
    ev = {
        "type": "unfollow",
        "mode": "active",
        "timestamp": 1700000000000,
        "source": {"type": "user", "userId": TESTER_A},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
    }
    assert post_events(client, [ev]).status_code == 200
    with app.app_context():
        deadline = time.time() + 5
        while resident_store.get_resident(rt.store.db, TESTER_A) is not None and time.time() < deadline:
            time.sleep(0.05)
        assert resident_store.get_resident(rt.store.db, TESTER_A) is None
        assert [r["user_id"] for r in service.list_testers(rt.store.db)] == [TESTER_B]
        n = rt.store.db.execute("SELECT COUNT(*) FROM alert_testers WHERE user_id = ?", [TESTER_A]).fetchone()[0]
        assert n == 0


def test_the_tester_pseudonym_is_salted_with_the_apps_secret(rt, runner, app):
    create_accounts(app, tanaka="operator")
    _cli_ok(runner, "alert", "testers", "add", TESTER_A, "--by", "tanaka")
    _cli_ok(runner, "alert", "testers", "remove", TESTER_A, "--by", "tanaka")
    targets = {e["action"]: e["target"] for e in audit.entries(rt.store.db, action_prefix="alert.tester")}
    expected = "tester:" + hash_user(TESTER_A, app.config["SECRET_KEY"])
    assert targets == {"alert.tester_add": expected, "alert.tester_remove": expected}
    assert TESTER_A not in json.dumps(targets)
    # Without the app's secret there is no pseudonym (it was salted with an empty key).
    with pytest.raises(ValueError, match="SECRET_KEY"):
        service.add_tester(rt.store.db, TESTER_B, "tanaka", secret="")
    assert service.list_testers(rt.store.db) == []
