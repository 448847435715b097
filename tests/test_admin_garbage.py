"""Console 粗大ごみ: requests per day and area, capacity, CSV, cancel with a reason told by push."""

from __future__ import annotations

from datetime import timedelta

from bot.runtime import runtime
from garbage.service import ward_today
from outbox.sender import deliver_due
from store import garbage as garbage_store
from tests.conftest import logged_in, page_csrf

USER = "U" + "9" * 32


def _book(app, day, address="2-3-4", lang="en", user=USER):
    with app.app_context():
        return garbage_store.book_request(
            runtime(app).store.db,
            user_id=user,
            area="midori-1",
            address=address,
            day=day.isoformat(),
            items=[{"name": "自転車", "fee": 800}],
            total_fee=800,
            lang=lang,
            capacity=10,
            receipt_prefix="S",
        )


def test_staff_see_requests_set_capacity_export_and_cancel(admin_app, emulator):
    day = ward_today() + timedelta(days=5)
    req = _book(admin_app, day, address="=1+1 ハイツ")
    staff = logged_in(admin_app, "staff")
    page = staff.get("/admin/garbage").text
    assert req["receipt"] in page and "みどり一丁目 =1+1 ハイツ" in page and "800円" in page
    assert "粗大ごみ" in page  # in the navigation

    token = page_csrf(staff, "/admin/garbage")
    r = staff.post(
        "/admin/garbage/capacity",
        data={"csrf_token": token, "area": "midori-1", "day": day.isoformat(), "capacity": "1"},
    )
    assert r.status_code == 302
    page = staff.get("/admin/garbage").text
    assert "満" in page and ">1<" in page.replace(" ", "")
    bad = staff.post(
        "/admin/garbage/capacity", data={"csrf_token": token, "area": "nowhere", "capacity": "3"}, follow_redirects=True
    )
    assert "地区と件数" in bad.text

    csv_text = staff.get(f"/admin/garbage/requests.csv?from={day}&to={day}").data.decode("utf-8-sig")
    assert req["receipt"] in csv_text and "'=1+1 ハイツ" in csv_text and USER not in csv_text

    no_reason = staff.post(
        f"/admin/garbage/requests/{req['id']}/cancel", data={"csrf_token": token, "reason": " "}, follow_redirects=True
    )
    assert "理由を入力" in no_reason.text
    done = staff.post(
        f"/admin/garbage/requests/{req['id']}/cancel",
        data={"csrf_token": token, "reason": "道路工事のため収集できません"},
        follow_redirects=True,
    )
    assert "取り消しました" in done.text and "通知します" in done.text
    with admin_app.app_context():
        rt = runtime(admin_app)
        deliver_due(rt.store, rt.line)
    pushed = emulator.texts(USER)
    assert len(pushed) == 1 and req["receipt"] in pushed[0] and "道路工事のため収集できません" in pushed[0]
    assert pushed[0].startswith("[Bulky waste] The ward has cancelled")  # the resident's language
    again = staff.post(
        f"/admin/garbage/requests/{req['id']}/cancel", data={"csrf_token": token, "reason": "x"}, follow_redirects=True
    )
    with admin_app.app_context():
        deliver_due(rt.store, rt.line)
    assert "すでに取り消されています" in again.text and len(emulator.texts(USER)) == 1


def test_operators_cannot_open_the_garbage_console(admin_app):
    op = logged_in(admin_app, "operator")
    assert op.get("/admin/garbage").status_code == 403
