"""Every time a person reads is in the ward's zone (WARD_TIMEZONE), labelled; storage stays UTC."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import wardtime
from bot.runtime import runtime
from store import audit as audit_store
from store import core as core_store
from tests.conftest import logged_in

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "admin" / "templates").rglob("*.html"))
# A date-time as a person reads it; allowed only inside the filter's <time> element.
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
TIME_ELEMENT = re.compile(r'<time datetime="([^"]+)">([^<]+)</time>')
EPOCH = re.compile(r"(?<![\d.])1[6-9]\d{8}(?:\.\d+)?(?![\d.])")
# Template expressions that hold a time: names ending _at, `.at`, `.first`/`.last` (question groups).
TIME_EXPR = re.compile(r"\{\{[^}]*?\b(?:\w+_at|\w+\.at|g\.first|g\.last)\b[^}]*\}\}")


def test_epoch_shown_in_tokyo_with_label():
    t = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC).timestamp()
    assert wardtime.format_time(t, ZoneInfo("Asia/Tokyo")) == "2026-12-01 09:30 JST"
    assert wardtime.format_time(t, ZoneInfo("Asia/Tokyo"), seconds=True) == "2026-12-01 09:30:00 JST"
    assert wardtime.format_time(None) == "—"


def test_iso_strings_and_naive_values_are_read_as_what_they_say():
    tz = ZoneInfo("Asia/Tokyo")
    assert wardtime.format_time("2026-12-01T09:30:00+09:00", tz) == "2026-12-01 09:30 JST"
    assert wardtime.format_time("2026-12-01T00:30:00Z", tz) == "2026-12-01 09:30 JST"
    # A stored naive value is UTC (the only zone we store).
    assert wardtime.format_time(dt.datetime(2026, 12, 1, 0, 30), tz) == "2026-12-01 09:30 JST"


def test_other_zones_follow_daylight_saving_and_label_offsets():
    ny = ZoneInfo("America/New_York")
    assert wardtime.format_time(dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC), ny) == "2026-07-01 08:00 EDT"
    assert wardtime.format_time(dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), ny) == "2026-12-01 07:00 EST"
    # Zones without an abbreviation get an explicit offset rather than a bare number.
    assert wardtime.format_time(0, ZoneInfo("America/Sao_Paulo")).endswith("UTC-03")
    # Local days start at local midnight, also on the day the clocks change.
    start = wardtime.day_start(dt.date(2026, 3, 8), ny)
    assert dt.datetime.fromtimestamp(start, dt.UTC).hour == 5
    assert wardtime.day_start(dt.date(2026, 3, 9), ny) - start == 23 * 3600


def test_unknown_zone_fails_fast_naming_the_variable(app_config):
    from webhook import ConfigError, create_app

    with pytest.raises(ConfigError, match="WARD_TIMEZONE"):
        create_app({**app_config, "WARD_TIMEZONE": "Mars/Olympus"})


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_show_times_only_through_the_filter(path):
    """A template that prints a stored time without `|dt` would show raw UTC (or an epoch)."""
    text = path.read_text(encoding="utf-8")
    # A time used as a condition (`… if v.published_at else …`) is not printed.
    for expr in TIME_EXPR.findall(re.sub(r"\bif\b[^}]*?\belse\b", "if _ else", text)):
        assert "|dt" in expr.replace(" ", ""), f"{path.name}: {expr} is shown without the dt filter"
    assert "strftime" not in text and "fromtimestamp" not in text


def _seed(app) -> dict[str, float]:
    """Rows of every kind a page shows a time of; returns their stored epochs."""
    db = runtime(app).store.db
    core_store.log_query(db, "犬の登録をしたい", "fallback")
    core_store.log_query(db, "犬の登録", "fallback")
    audit_store.record(db, "root1", "test.entry", "x", {"k": "v"})
    stamps = {"audit": audit_store.entries(db, 1)[0]["at"]}
    service = pytest.importorskip("alerts.service")
    aid = service.create_alert(db, by="oper1", headline="大雨", body="気をつけてください", status="exercise")
    stamps["alert"] = service.get_alert(db, aid)["created_at"]
    shelters = pytest.importorskip("shelters.service")
    shelters.ensure_seeded(runtime(app).store, app.config["SHELTERS_CSV"])
    sid = shelters.list_shelters(db)[0]["source_id"]
    shelters.set_status(db, sid, "open", 3, by="oper1")
    stamps["shelter"] = sid
    return stamps


def _assert_ward_times(page: str, tz: ZoneInfo, where: str) -> int:
    """Every date-time on `page` is the filter's, in `tz`, labelled; returns how many there are."""
    found = TIME_ELEMENT.findall(page)
    for iso, text in found:
        moment = dt.datetime.fromisoformat(iso)
        assert moment.utcoffset() == moment.astimezone(tz).utcoffset(), f"{where}: {iso} is not in {tz}"
        assert text == wardtime.format_time(moment, tz), f"{where}: {text!r} for {iso}"
    rest = TIME_ELEMENT.sub("", page)
    assert not DATE_TIME.search(rest), f"{where}: unlabelled time {DATE_TIME.search(rest).group()!r}"
    assert not EPOCH.search(rest), f"{where}: raw epoch {EPOCH.search(rest).group()!r}"
    return len(found)


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Sao_Paulo"])
def test_every_console_page_shows_ward_time(admin_app, zone):
    tz = ZoneInfo(zone)
    admin_app.config["WARD_TZ"] = tz
    stamps = _seed(admin_app)
    pages = {
        "staff": ["/admin/", "/admin/faq", "/admin/unanswered", "/admin/account"],
        "admin": ["/admin/audit", "/admin/users"],
        "operator": ["/admin/alerts", "/admin/alerts/1", "/admin/shelters", f"/admin/shelters/{stamps['shelter']}"],
        "approver": ["/admin/approvals"],
    }
    shown = {}
    for role, paths in pages.items():
        c = logged_in(admin_app, role)
        for path in paths:
            r = c.get(path)
            assert r.status_code == 200, path
            shown[path] = _assert_ward_times(r.text, tz, path)
    # The pages that list timed rows really show them (the checks above are not vacuous).
    for path in ("/admin/faq", "/admin/unanswered", "/admin/audit", "/admin/users", "/admin/alerts"):
        assert shown[path] > 0, path
    audit_page = logged_in(admin_app, "admin").get("/admin/audit").text
    assert wardtime.format_time(stamps["audit"], tz) in audit_page
    utc_text = dt.datetime.fromtimestamp(stamps["audit"], dt.UTC).strftime("%Y-%m-%d %H:%M")
    assert utc_text not in audit_page
    detail = logged_in(admin_app, "operator").get(f"/admin/shelters/{stamps['shelter']}").text
    assert _assert_ward_times(detail, tz, "shelter history") >= 1


def test_dashboard_days_are_the_wards_calendar_days(admin_app, clock):
    """A question at 08:00 JST on the 2nd is the 2nd's, though it is still the 1st in UTC."""
    tz = ZoneInfo("Asia/Tokyo")
    db = runtime(admin_app).store.db
    asked = dt.datetime(2026, 12, 2, 8, 0, tzinfo=tz).timestamp()
    qid = core_store.log_query(db, "ごみの日", "fallback")
    db.execute("UPDATE query_log SET at = ? WHERE id = ?", [asked, qid])  # the store stamps time.time()
    from admin.views_dashboard import DAYS
    from store import admin as admin_store

    clock.t = dt.datetime(2026, 12, 2, 12, 0, tzinfo=tz).timestamp()
    with admin_app.test_request_context():
        from admin.views_dashboard import _day_ranges

        ranges = _day_ranges(clock.t)
    assert len(ranges) == DAYS and ranges[-1][0] == "2026-12-02"
    rows = admin_store.questions_per_day(db, ranges)
    assert rows[-1]["n"] == 1 and rows[-1]["fallback"] == 1 and rows[-2]["n"] == 0


def test_cli_faq_versions_print_ward_time(runner, app):
    runtime(app).faq.current()
    (v,) = core_store.list_faq_versions(runtime(app).store.db)
    out = runner.invoke(args=["faq", "versions"]).output
    assert wardtime.format_time(v.created_at, ZoneInfo("Asia/Tokyo")) in out


def test_cli_alert_list_prints_ward_time(runner, app):
    service = pytest.importorskip("alerts.service")
    db = runtime(app).store.db
    aid = service.create_alert(db, by="oper1", headline="大雨", body="気をつけてください", status="exercise")
    created = service.get_alert(db, aid)["created_at"]
    out = runner.invoke(args=["alert", "list"]).output
    assert wardtime.format_time(created, ZoneInfo("Asia/Tokyo")) in out
