"""The console's alert composer: test-audience drills and the operator's own text per language."""

from __future__ import annotations

import pytest

from store import alerts as alert_store
from store import residents as resident_store
from tests.test_admin import admin_app, clock, csrf_of, logged_in, page_csrf  # noqa: F401 - fixtures

TESTER = "U" + "a" * 32
EN_RESIDENT = "U" + "e" * 32
JA_RESIDENT = "U" + "d" * 32


@pytest.fixture
def residents(admin_app):  # noqa: F811 - the imported fixture
    db = admin_app.extensions["madoguchi"].store.db
    resident_store.bulk_add_residents(
        db,
        [
            {"user_id": TESTER, "lang": "ja", "area": "midori-1"},
            {"user_id": EN_RESIDENT, "lang": "en", "area": "midori-1"},
            {"user_id": JA_RESIDENT, "lang": "ja", "area": "midori-1"},
        ],
    )
    alert_store.add_tester(db, TESTER, "tanaka", note="防災課")
    return db


def _create(client, **data):
    tok = csrf_of(client.get("/admin/alerts/new").text)
    return client.post("/admin/alerts", data={"csrf_token": tok, **data})


def _approve_and_send(admin_app, alert_id):  # noqa: F811
    ap = logged_in(admin_app, "approver")
    assert ap.post(f"/admin/alerts/{alert_id}/approve", data={"csrf_token": page_csrf(ap)}).status_code == 302
    with admin_app.app_context():
        out = admin_app.test_cli_runner().invoke(args=["alert", "send", str(alert_id)])
    assert out.exit_code == 0, out.output


def test_drill_to_the_test_audience_reaches_only_the_testers(admin_app, residents, emulator):  # noqa: F811
    op = logged_in(admin_app, "operator")
    page = op.get("/admin/alerts/new").text
    assert 'name="test_audience"' in page and "テスト対象者" in page
    r = _create(op, headline="配信テスト", body="職員端末への試験送信です。", test_audience="1", kind="exercise")
    assert r.status_code == 302, r.text
    alert_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    detail = op.get(r.headers["Location"]).text
    assert "送信先: テスト対象者のみ" in detail and "テスト対象者（登録 1 人）" in detail
    assert 'id="recipient-count">1</b>' in detail
    _approve_and_send(admin_app, alert_id)
    assert [m["to"] for m in emulator.messages()] == [TESTER]
    assert emulator.texts(TESTER)[0].startswith("【訓練】")


def test_actual_alert_with_the_test_audience_is_refused_and_the_input_kept(admin_app, residents):  # noqa: F811
    op = logged_in(admin_app, "operator")
    r = _create(op, headline="臨時のお知らせ", body="本日は窓口を18時まで開けます。", test_audience="1", kind="actual")
    assert r.status_code == 400
    assert "臨時のお知らせ" in r.text and 'id="test_audience" checked' in r.text
    assert residents.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0


def test_own_english_text_is_previewed_and_delivered_to_english_residents(admin_app, residents, emulator):  # noqa: F811
    op = logged_in(admin_app, "operator")
    r = _create(
        op,
        headline="窓口の時間延長",
        body="本日は窓口を18時まで開けます。",
        tr_en_headline="Longer office hours",
        tr_en_body="The ward office is open until 6 pm today.",
        kind="actual",
    )
    assert r.status_code == 302, r.text
    alert_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    detail = op.get(r.headers["Location"]).text
    assert "Longer office hours" in detail and "open until 6 pm" in detail
    _approve_and_send(admin_app, alert_id)
    assert sorted(m["to"] for m in emulator.messages()) == sorted([TESTER, EN_RESIDENT, JA_RESIDENT])
    assert "Longer office hours" in emulator.texts(EN_RESIDENT)[0]
    assert "窓口の時間延長" in emulator.texts(JA_RESIDENT)[0]
