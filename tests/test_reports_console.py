"""Reports after the dialogue: the staff console, status changes told to the reporter exactly once,
Open311 GeoReport v2, the CSV export, and personal data (unfollow, retention)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.runtime import runtime
from outbox.sender import deliver_due
from reports import service
from store import audit as audit_store
from store import reports as report_store
from tests.conftest import create_staff, csrf_of, db_of, login, make_event, post_events
from tests.reports_helpers import Resident, has_exif, jpeg_with_gps

# The whole store/reports.py SQL runs here: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

USER = "U" + "5" * 32
INSIDE = (35.7013, 139.6489)


@pytest.fixture
def app_config(app_config, tmp_path: Path):
    return {**app_config, "MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture
def staff(app):
    db = runtime(app).store.db
    create_staff(db, "doro1", "staff")
    create_staff(db, "oper1", "operator")
    c = app.test_client()
    assert login(c, "doro1").status_code == 302
    return c


def report_via_line(
    client, emulator, user=USER, text="歩道に穴があいています", kind="道路・歩道の損傷", lang=None
) -> int:
    if lang:
        emulator.add_user(user, language=lang)
    r = Resident(client, emulator, user)
    r.photo(jpeg_with_gps())
    reply = r.location(*INSIDE)
    reply = r.tap(reply, kind)
    reply = r.say(text)
    reply = r.tap(reply, [i["action"]["label"] for i in reply["quickReply"]["items"]][0])
    digits = "".join(ch for ch in reply["text"].split("\n")[1] if ch.isdigit())
    return int(digits)


def change(staff, report_id: int, status: str, **form) -> str:
    page = staff.get(f"/admin/reports/{report_id}")
    data = {"csrf_token": csrf_of(page.text), "status": status, **form}
    resp = staff.post(f"/admin/reports/{report_id}/status", data=data, follow_redirects=True)
    assert resp.status_code == 200
    return resp.text


def pushes(emulator, user=USER):
    return [m for m in emulator.messages(to=user) if m["kind"] == "push"]


def test_report_in_console_and_open311_and_one_push_per_status_change(app, client, emulator, staff):
    rid = report_via_line(client, emulator)

    # The console lists it with its photo; the detail page links out to a map.
    listing = staff.get("/admin/reports").text
    assert f"<b>#{rid}</b>" in listing and "道路・歩道の損傷" in listing and "みどり一丁目" in listing
    assert "<svg" in listing and f"/admin/reports/{rid}" in listing
    detail = staff.get(f"/admin/reports/{rid}").text
    assert "openstreetmap.org" in detail and "35.701300" in detail and "歩道に穴があいています" in detail
    thumb = staff.get(detail.split('src="')[1].split('"')[0])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and not has_exif(thumb.data)

    # Open311: spec field names, no reporter, no unapproved text, an unguessable EXIF-free photo URL.
    [req] = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert req["service_request_id"] == str(rid) and req["status"] == "open"
    assert req["service_code"] == "road" and req["service_name"] == "道路・歩道の損傷"
    assert req["description"] == "" and req["address"] == "みどり一丁目"
    assert req["lat"] == pytest.approx(INSIDE[0]) and req["long"] == pytest.approx(INSIDE[1])
    assert req["requested_datetime"].endswith("+09:00")
    media_path = urlsplit(req["media_url"]).path
    assert len(media_path.rsplit("/", 1)[1]) >= 32
    photo = client.get(media_path)
    assert photo.status_code == 200 and not has_exif(photo.data) and b"PhoneMaker" not in photo.data
    everything = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert USER not in everything and "歩道に穴" not in everything
    assert client.get(media_path.replace(media_path.rsplit("/", 1)[1], "A" * 32 + ".jpg")).status_code == 404

    # Staff publish the description: now it is in the open data.
    page = staff.get(f"/admin/reports/{rid}")
    staff.post(f"/admin/reports/{rid}/publish", data={"csrf_token": csrf_of(page.text), "public": "1"})
    [req] = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert req["description"] == "歩道に穴があいています"

    # A status change: audited, one message queued, delivered exactly once even if the worker runs again.
    html = change(staff, rid, "in_progress", note="現地確認済み", status_notes="12月5日に補修します")
    assert "対応中" in html
    rt = runtime(app)
    assert deliver_due(rt.store, rt.line) == 1
    assert deliver_due(rt.store, rt.line) == 0
    [push] = pushes(emulator)
    assert f"受付番号{rid}" in push["message"]["text"] and "対応中" in push["message"]["text"]
    assert "12月5日に補修します" in push["message"]["text"]
    entry = audit_store.entries(db_of(app), action_prefix="report.status")[0]
    assert entry["actor"] == "doro1" and entry["target"] == f"report:{rid}" and "現地確認済み" in entry["detail"]

    change(staff, rid, "done")
    deliver_due(rt.store, rt.line)
    assert len(pushes(emulator)) == 2
    [req] = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert req["status"] == "closed" and req["status_notes"] == "12月5日に補修します"
    history = staff.get(f"/admin/reports/{rid}").text
    assert history.count("doro1") >= 2 and "送信済み" in history


def test_status_message_is_in_the_reporters_language(app, client, emulator, staff):
    rid = report_via_line(client, emulator, user="Uen5", kind="Road or sidewalk", lang="en")
    change(staff, rid, "done")
    rt = runtime(app)
    deliver_due(rt.store, rt.line)
    [push] = pushes(emulator, "Uen5")
    assert push["message"]["text"].startswith(f"Your report no. {rid} (Road or sidewalk) is now: fixed.")


def test_push_accepted_then_500_is_retried_with_the_same_key_and_delivered_once(app, client, emulator, staff):
    rid = report_via_line(client, emulator)
    change(staff, rid, "in_progress")
    emulator.faults(rate_500_after_accept=1.0, endpoints=["push"], seed=1)
    rt = runtime(app)
    deliver_due(rt.store, rt.line, backoff_base=0.0)
    emulator.faults()
    db_of(app).execute("UPDATE outbox_batches SET next_attempt_at = 0")
    deliver_due(rt.store, rt.line)
    assert len(pushes(emulator)) == 1
    [notice] = report_store.notices_for(db_of(app), rid)
    assert notice["status"] == "sent" and notice["last_status"] == 409 and notice["attempts"] == 2


def test_invalid_changes_are_refused_and_nothing_is_sent(app, client, emulator, staff):
    rid = report_via_line(client, emulator)
    html = change(staff, rid, "duplicate")
    assert "元の通報の受付番号" in html
    html = change(staff, rid, "duplicate", duplicate_of=str(rid))
    assert "元の通報の受付番号" in html
    html = change(staff, rid, "received")
    assert "すでにその状態" in html
    assert report_store.notices_for(db_of(app), rid) == []
    other = report_via_line(client, emulator, user="U" + "6" * 32)
    html = change(staff, other, "duplicate", duplicate_of=str(rid))
    assert f"#{rid} 道路・歩道の損傷（受付）" in html and "元の通報" in html
    [req] = client.get(f"/open311/v2/requests/{other}.json").get_json()
    assert req["status"] == "closed" and f"duplicate of {rid}" in req["status_notes"]


def test_console_is_for_staff_only(app, client, emulator, staff):
    rid = report_via_line(client, emulator)
    anon = app.test_client()
    assert anon.get("/admin/reports").status_code == 302
    assert anon.get("/admin/reports.csv").status_code == 302
    oper = app.test_client()
    login(oper, "oper1")
    assert oper.get(f"/admin/reports/{rid}").status_code == 403
    assert staff.post(f"/admin/reports/{rid}/status", data={"status": "done"}).status_code == 400  # no CSRF token


def test_filters_and_formula_safe_csv(app, client, emulator, staff):
    a = report_via_line(client, emulator, text='=HYPERLINK("http://evil")')
    b = report_via_line(client, emulator, user="U" + "4" * 32, kind="公園・遊具", text="+ブランコの鎖が切れている")
    change(staff, b, "in_progress")
    assert f"<b>#{a}</b>" in staff.get("/admin/reports?kind=road").text
    assert f"<b>#{b}</b>" not in staff.get("/admin/reports?kind=road").text
    assert f"<b>#{b}</b>" in staff.get("/admin/reports?status=in_progress").text
    assert f"<b>#{a}</b>" not in staff.get("/admin/reports?status=in_progress").text
    assert f"<b>#{a}</b>" in staff.get("/admin/reports?area=midori-1").text
    assert "条件に合う通報はありません" in staff.get("/admin/reports?area=izumi").text
    assert "条件に合う通報はありません" in staff.get("/admin/reports?from=2001-01-01&to=2001-01-02").text
    resp = staff.get("/admin/reports.csv")
    assert resp.headers["Content-Type"].startswith("text/csv") and resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["受付番号", "受付日時", "種類", "状態"]
    cells = {r[0]: r for r in rows[1:]}
    assert cells[str(a)][8] == '\'=HYPERLINK("http://evil")'
    assert cells[str(b)][8] == "'+ブランコの鎖が切れている"
    assert cells[str(b)][1].endswith("JST")
    only_b = list(csv.reader(io.StringIO(staff.get("/admin/reports.csv?kind=park").data.decode("utf-8-sig"))))
    assert [r[0] for r in only_b[1:]] == [str(b)]


def test_open311_services_and_filters(app, client, emulator):
    services = client.get("/open311/v2/services.json").get_json()
    assert [s["service_code"] for s in services] == ["road", "light", "park", "dumping", "sign", "other"]
    assert all(
        {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(s)
        for s in services
    )
    now = time.time()
    rows = [
        {
            "kind": "road",
            "kind_name": "道路・歩道の損傷",
            "created_at": now - 3600,
            "status": "received",
            "lat": 35.70,
            "lon": 139.65,
        },
        {
            "kind": "light",
            "kind_name": "街路灯・防犯灯",
            "created_at": now - 86400 * 3,
            "status": "done",
            "closed_at": now,
        },
        {"kind": "park", "kind_name": "公園・遊具", "created_at": now - 86400 * 200, "status": "received"},
    ]
    report_store.insert_reports(db_of(app), rows)

    def ids(query: str) -> list[str]:
        resp = client.get("/open311/v2/requests.json" + query)
        assert resp.status_code == 200, resp.text
        return [r["service_request_id"] for r in resp.get_json()]

    assert ids("") == ["1", "2"]  # the last 90 days by default
    assert ids("?service_code=light") == ["2"]
    assert ids("?service_code=road,light&status=open") == ["1"]
    assert ids("?status=closed") == ["2"]
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 86400 * 365))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 86400 * 2))
    assert ids(f"?start_date={start}") == ["1", "2", "3"]
    assert ids(f"?start_date={start}&end_date={end}") == ["2", "3"]
    bad = client.get("/open311/v2/requests.json?start_date=yesterday")
    assert bad.status_code == 400 and bad.get_json()[0]["code"] == 400
    assert client.get("/open311/v2/requests.json?status=maybe").status_code == 400
    missing = client.get("/open311/v2/requests/999.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404
    assert client.get("/open311/v2/requests/abc.json").status_code == 404
    assert client.get("/open311/v2/services.json").headers["Access-Control-Allow-Origin"] == "*"


def test_unfollow_keeps_the_report_anonymous_and_drops_the_rest(app, client, emulator, staff):
    rid = report_via_line(client, emulator)
    change(staff, rid, "in_progress")  # a message waits in the outbox
    r = Resident(client, emulator, USER)
    r.photo(jpeg_with_gps())  # a second report in progress
    post_events(client, [make_event("unfollow", USER)])
    db = db_of(app)
    report = report_store.get_report(db, rid)
    assert report is not None and report["user_id"] is None and report["kind"] == "road"
    assert report_store.get_draft(db, USER) is None
    for table in ("reports", "outbox_recipients", "report_drafts"):
        assert USER not in json.dumps(list(db.query(f"select * from {table}")), ensure_ascii=False)
    rt = runtime(app)
    deliver_due(rt.store, rt.line)  # the queued message has no recipient left: nothing is pushed
    assert pushes(emulator) == []
    # The draft's photos are deleted by the worker's sweep; the report's stay.
    media = Path(app.config["MEDIA_DIR"])
    assert len(list(media.rglob("*.jpg"))) == 4
    service.sweep(db, service.Settings.from_config(app.config, runtime(app).areas))
    assert len(list(media.rglob("*.jpg"))) == 2
    assert f"<b>#{rid}</b>" in staff.get("/admin/reports").text
    assert "匿名" in staff.get(f"/admin/reports/{rid}").text


def test_sweep_expires_drafts_and_applies_retention(app, client, emulator):
    db = db_of(app)
    s = service.Settings.from_config(app.config, runtime(app).areas)
    rid = report_via_line(client, emulator)
    report_store.insert_reports(
        db, [{"kind": "road", "kind_name": "道路", "created_at": time.time(), "status": "done", "user_id": "Uold"}]
    )
    db.execute("UPDATE reports SET closed_at = ? WHERE user_id = 'Uold'", [time.time() - 400 * 86400])
    Resident(client, emulator, "U" + "3" * 32).photo(jpeg_with_gps())
    db.execute("UPDATE report_drafts SET updated_at = updated_at - 3600")
    result = service.sweep(db, s)
    assert result == {"expired": 1, "deleted": 2, "forgotten": 1}
    assert report_store.get_report(db, rid)["user_id"] == USER  # open reports keep their reporter
    # The resident is told on their next message, then the draft is gone for good.
    reply = Resident(client, emulator, "U" + "3" * 32).say("やめる")
    assert "取り消しました" in reply["text"]
    assert report_store.get_draft(db, "U" + "3" * 32) is None
