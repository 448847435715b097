"""The console's 取消 (confirmation, fixed text, free text needs approval) and 解除 (draft → approval)."""

from __future__ import annotations

import pytest

from bot.runtime import runtime
from store import residents as resident_store
from tests.conftest import deliver_alerts, logged_in, page_csrf, send_alert

pytest.importorskip("alerts.service")

EVIL = "【緊急】…今すぐ桜ヶ丘中学校へ避難してください https://evil.example/"


def _deliver(app, alert_id):
    with app.app_context():
        deliver_alerts(runtime(app), alert_id)


@pytest.fixture
def order(admin_app):
    """A sent 警戒レベル4 order for みどり一丁目, reaching three residents."""
    rt = runtime(admin_app)
    with admin_app.app_context():
        db = rt.store.db
        resident_store.bulk_add_residents(
            db,
            [
                {"user_id": "Uc1", "lang": "ja", "area": "midori-1"},
                {"user_id": "Uc2", "lang": "en", "area": "midori-1"},
                {"user_id": "Uc3", "lang": "ja", "area": "wakaba-1"},
                {"user_id": "Uc4", "lang": "vi", "area": None},
            ],
        )
        fields = {"areas": "みどり一丁目", "hazard": "洪水"}
        return send_alert(rt, by="oper1", approver="appr1", template="evac_level4", fields=fields, areas=["midori-1"])


def test_cancel_needs_the_confirmation_page(admin_app, order, emulator):
    op = logged_in(admin_app, "operator")
    sent_before = len(emulator.messages())
    page = op.get(f"/admin/alerts/{order}")
    assert f"/admin/alerts/{order}/cancel" in page.text and "取り消す（誤って送ったとき）" in page.text
    # A POST without the confirmation sends nothing: it leads to the confirmation page.
    r = op.post(f"/admin/alerts/{order}/cancel", data={"csrf_token": page_csrf(op)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/alerts/{order}/cancel")
    assert len(emulator.messages()) == sent_before
    confirm = op.get(f"/admin/alerts/{order}/cancel")
    assert confirm.status_code == 200
    assert 'id="cancel-count">3<' in confirm.text
    assert "【取消】先ほどのお知らせ「【警戒レベル4】避難指示」は、誤って送信したものです" in confirm.text
    assert "CANCELLED" in confirm.text and "Vui lòng bỏ qua" in confirm.text  # every language it goes out in
    assert "「解除」を使ってください" in confirm.text and "--" not in confirm.text.split("<main")[1]
    r = op.post(f"/admin/alerts/{order}/cancel", data={"csrf_token": page_csrf(op), "confirm": "1"})
    assert r.status_code == 302
    cancel_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    _deliver(admin_app, cancel_id)
    got = sorted(m["to"] for m in emulator.messages() if m["message"]["text"].startswith("【取消】"))
    assert got == ["Uc1", "Uc2", "Uc4"]
    listing = op.get("/admin/alerts").text
    assert f"取消：#{order}「【警戒レベル4】避難指示」" in listing
    detail = op.get(f"/admin/alerts/{cancel_id}").text
    assert "・取消" in detail and f"取消：#{order}" in detail


def test_console_free_text_cancel_is_a_draft_for_another_approver(admin_app, order, emulator):
    ap = logged_in(admin_app, "approver")
    sent_before = len(emulator.messages())
    r = ap.post(f"/admin/alerts/{order}/cancel", data={"csrf_token": page_csrf(ap), "body": EVIL, "confirm": "1"})
    assert r.status_code == 302
    cancel_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    assert cancel_id != order
    page = ap.get(f"/admin/alerts/{cancel_id}").text
    assert "下書き" in page and "evil.example" in page  # shown for the approver to read
    # The same person cannot approve their own text; nothing can be sent unapproved.
    r = ap.post(f"/admin/alerts/{cancel_id}/approve", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 409 and "別の担当者" in r.text
    r = ap.post(f"/admin/alerts/{cancel_id}/send", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 409
    _deliver(admin_app, cancel_id)
    assert len(emulator.messages()) == sent_before
    queue = ap.get("/admin/approvals").text
    assert f"取消：#{order}" in queue


def test_lift_from_the_console_goes_through_approval(admin_app, order, emulator):
    op = logged_in(admin_app, "operator")
    assert "解除の下書きを作る" in op.get(f"/admin/alerts/{order}").text
    r = op.post(f"/admin/alerts/{order}/lift", data={"csrf_token": page_csrf(op)})
    assert r.status_code == 302
    lift_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    page = op.get(f"/admin/alerts/{lift_id}").text
    assert (
        f"解除：#{order}" in page and "【解除】警戒レベル4「避難指示」を解除しました" in page and "まちがい" not in page
    )
    ap = logged_in(admin_app, "approver")
    assert f"解除：#{order}" in ap.get("/admin/approvals").text
    # An approver cannot create a lift (operators write, approvers approve).
    assert ap.post(f"/admin/alerts/{order}/lift", data={"csrf_token": page_csrf(ap)}).status_code == 403
    assert ap.post(f"/admin/alerts/{lift_id}/approve", data={"csrf_token": page_csrf(ap)}).status_code == 302
    assert ap.post(f"/admin/alerts/{lift_id}/send", data={"csrf_token": page_csrf(ap)}).status_code == 302
    _deliver(admin_app, lift_id)
    lifted = sorted(m["to"] for m in emulator.messages() if "【解除】" in m["message"]["text"])
    assert lifted == ["Uc1", "Uc2", "Uc4"]
    page = op.get(f"/admin/alerts/{order}").text
    assert 'id="lifted"' in page and "解除の下書きを作る" not in page


def test_alert_page_shows_labels_not_codes(admin_app, order):
    op = logged_in(admin_app, "operator")
    page = op.get(f"/admin/alerts/{order}").text
    main = page.split("<main")[1]
    assert "みどり一丁目" in main and "洪水" in main
    for code in ("midori-1", ">flood", ">sent<", "--status"):
        assert code not in main, code
    assert "配信済み" in main and "配信中" not in main
