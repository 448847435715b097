"""ごみ staff commands: evening reminders through the outbox, fee list, capacity, the contractor's CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.worker import run_worker
from bot.runtime import runtime
from store import garbage as garbage_store
from store import residents as resident_store
from tests.conftest import db_of
from tests.test_garbage_bot import SAMPLE

JST = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.both_engines


def _evening_before_monday() -> datetime:
    """A Sunday 18:00 JST outside the year-end pause: みどり一丁目 has 燃やすごみ on Monday."""
    d = date(2027, 1, 10)  # a Sunday
    return datetime(d.year, d.month, d.day, 18, 0, tzinfo=JST)


def test_reminders_once_per_area_in_each_language_and_never_at_night(app, runner, emulator):
    assert runner.invoke(args=["garbage", "import", str(SAMPLE)]).exit_code == 0
    with app.app_context():
        db = db_of(app)
        resident_store.set_resident(db, "U" + "a" * 32, area="midori-1", lang="ja", topics=["garbage"])
        resident_store.set_resident(db, "U" + "b" * 32, area="midori-1", lang="en", topics=["garbage"])
        resident_store.set_resident(db, "U" + "c" * 32, area="midori-1", lang="ja", topics=[])  # not opted in
        resident_store.set_resident(db, "U" + "d" * 32, area="wakaba-3", lang="ja", topics=["garbage"])
        resident_store.set_resident(
            db, "U" + "e" * 32, area="midori-2", lang="ko", topics=["garbage"], delivery_stopped=True
        )
    evening = _evening_before_monday()
    night = runner.invoke(args=["garbage", "remind", "--now", evening.replace(hour=22).isoformat()])
    assert night.exit_code != 0 and "outside 17:00–21:00" in night.output
    result = runner.invoke(args=["garbage", "remind", "--now", evening.isoformat()])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if "\t" in x]
    by_area = {x.split("\t")[0]: x for x in lines}
    assert "midori-1" in by_area and "2 residents" in by_area["midori-1"] and "燃やすごみ" in by_area["midori-1"]
    assert "wakaba-3" in by_area and "1 residents" in by_area["wakaba-3"]  # one batch per area
    assert "midori-2" not in by_area  # its only resident stopped deliveries
    again = runner.invoke(args=["garbage", "remind", "--now", evening.isoformat()])
    assert again.exit_code == 0 and "0 reminder(s) queued" in again.output

    with app.app_context():
        rt = runtime(app)
        run_worker(rt.store, rt.line, once=True, rate_limit_rps=None)
    ja = emulator.texts("U" + "a" * 32)
    en = emulator.texts("U" + "b" * 32)
    assert ja == ["【ごみ】明日 1月11日（月） は 燃やすごみ の日です（みどり一丁目）。朝8時までに出してください。"]
    assert en and en[0].startswith("[Garbage] Tomorrow, Mon 1/11: 燃やすごみ (みどり一丁目)")
    assert emulator.texts("U" + "c" * 32) == []


def test_reminder_expires_at_nine_so_a_backlog_is_not_sent_at_night(app, runner, emulator):
    assert runner.invoke(args=["garbage", "import", str(SAMPLE)]).exit_code == 0
    with app.app_context():
        resident_store.set_resident(db_of(app), "U" + "a" * 32, area="midori-1", lang="ja", topics=["garbage"])
    # Queued at 20:59 of an evening now past (a Sunday): its 21:00 expiry is over, the worker drops it.
    late = datetime(2026, 11, 15, 20, 59, tzinfo=JST)
    assert late < datetime.now(JST)
    assert runner.invoke(args=["garbage", "remind", "--now", late.isoformat()]).exit_code == 0
    with app.app_context():
        rt = runtime(app)
        run_worker(rt.store, rt.line, once=True, rate_limit_rps=None)
    assert emulator.texts("U" + "a" * 32) == []


def test_fee_import_capacity_and_contractor_csv(app, runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("品目,手数料\nいす,abc\n", encoding="utf-8")
    result = runner.invoke(args=["garbage", "fees", "import", str(bad)])
    assert result.exit_code != 0 and "line 2, column 手数料" in result.output and "still in use" in result.output
    good = tmp_path / "fees.csv"
    good.write_text("品目,手数料,notes\n=HYPERLINK(1),400,\nいす,400,\n", encoding="utf-8")
    assert "imported 2 items" in runner.invoke(args=["garbage", "fees", "import", str(good)]).output

    assert runner.invoke(args=["garbage", "capacity", "nowhere", "3"]).exit_code != 0
    ok = runner.invoke(args=["garbage", "capacity", "midori-1", "3", "--day", "2027-01-08"])
    assert ok.exit_code == 0 and "みどり一丁目: 3 per day on 2027-01-08" in ok.output
    with app.app_context():
        db = db_of(app)
        assert garbage_store.capacity_for(db, "midori-1", "2027-01-08", 10) == 3
        garbage_store.book_request(
            db,
            user_id="U" + "f" * 32,
            area="midori-1",
            address="=cmd|' /C calc'!A0",
            day="2027-01-08",
            items=[{"name": "=HYPERLINK(1)", "fee": 400}, {"name": "いす", "fee": 400}],
            total_fee=800,
            lang="ja",
            capacity=3,
            receipt_prefix="S",
        )
    out = tmp_path / "sodai.csv"
    result = runner.invoke(
        args=["garbage", "requests", "--from", "2027-01-08", "--to", "2027-01-08", "--csv", str(out)]
    )
    assert result.exit_code == 0 and "wrote 1 requests" in result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["受付番号", "収集日", "地区", "住所"]
    assert rows[1][2] == "みどり一丁目" and rows[1][3].startswith("'=") and rows[1][4].startswith("'=")
    assert "U" + "f" * 32 not in data.decode("utf-8-sig")  # the contractor never sees LINE ids


def test_every_garbage_command_has_help_with_an_example(runner):
    for args in (
        ["import"],
        ["days"],
        ["fees", "import"],
        ["capacity"],
        ["requests"],
        ["remind"],
    ):
        out = runner.invoke(args=["garbage", *args, "--help"]).output
        assert "Example: flask --app webhook garbage " + " ".join(args) in out, args


def test_the_worker_queues_reminders_from_six_and_forgets_stale_drafts(app, runner):
    from commands.garbage import worker_sweep

    assert runner.invoke(args=["garbage", "import", str(SAMPLE)]).exit_code == 0
    evening = _evening_before_monday()
    with app.app_context():
        db = db_of(app)
        resident_store.set_resident(db, "U" + "a" * 32, area="midori-1", lang="ja", topics=["garbage"])
        worker_sweep(db, now=evening.replace(hour=15))
        assert db.execute("SELECT COUNT(*) FROM garbage_reminders").fetchone()[0] == 0  # not before 18:00
        worker_sweep(db, now=evening.replace(hour=18, minute=1))
        worker_sweep(db, now=evening.replace(hour=18, minute=2))
        assert db.execute("SELECT COUNT(*) FROM garbage_reminders WHERE area = 'midori-1'").fetchone()[0] == 1

        garbage_store.save_draft(db, "U" + "a" * 32, {"step": "address", "items": [], "area": "midori-1"})
        afternoon = datetime.now(JST).replace(hour=15)
        worker_sweep(db, now=afternoon)
        assert garbage_store.get_draft(db, "U" + "a" * 32) is not None
        # Two days later the unfinished request (an address being typed) is gone.
        worker_sweep(db, now=afternoon + timedelta(days=2))
        assert garbage_store.get_draft(db, "U" + "a" * 32) is None
