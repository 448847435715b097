"""The 5374 format: every cell form, centre pauses, encodings, errors, atomic re-import, the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from garbage.calendar import area_days, calendar, next_collection, rule_dates
from garbage.format5374 import CellError, GarbageDataInvalid, parse_cell, parse_directory, parse_pause_date

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "garbage" / "midori"


def write_set(
    d: Path,
    cells: dict[str, str],
    centre: str = "",
    center_rows: str = "",
    remarks: str = "",
    target: str | None = None,
    target_header: str = "label",
    encoding: str = "utf-8",
) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    labels = list(cells)
    (d / "area_days.csv").write_bytes(
        ("地名,センター," + ",".join(labels) + "\n" + f"テスト町,{centre}," + ",".join(cells.values()) + "\n").encode(
            encoding
        )
    )
    items = target if target is not None else "".join(f"{lab},品{i},,ひん\n" for i, lab in enumerate(labels))
    (d / "target.csv").write_bytes((f"{target_header},name,notice,furigana\n" + items).encode(encoding))
    (d / "description.csv").write_bytes(
        ("label,sublabel,description,styles,bgcolor\n" + "".join(f"{lab},,,,\n" for lab in labels)).encode(encoding)
    )
    (d / "center.csv").write_bytes(("名称,休止開始日,休止終了日\n" + center_rows).encode(encoding))
    (d / "remarks.csv").write_bytes(("ID,注意事項\n" + remarks).encode(encoding))
    return d


def days_of(cell: str, start: str, end: str) -> list[str]:
    return sorted(
        d.isoformat() for d in rule_dates(parse_cell(cell), date.fromisoformat(start), date.fromisoformat(end))
    )


# --- cell forms ----------------------------------------------------------------------------


def test_weekdays_every_week():
    assert days_of("月 木", "2027-01-04", "2027-01-17") == ["2027-01-04", "2027-01-07", "2027-01-11", "2027-01-14"]


def test_nth_weekdays_of_the_month():
    # February 2027 starts on a Monday: 2nd/4th Wednesday are the 10th and 24th.
    assert days_of("水2 水4", "2027-02-01", "2027-02-28") == ["2027-02-10", "2027-02-24"]
    # A 5th weekday exists only in some months.
    assert days_of("月5", "2027-01-01", "2027-04-30") == ["2027-03-29"]


def test_months_after_a_colon_limit_the_rule():
    got = days_of("火2 金4:4 6 8 10 12 2", "2027-01-01", "2027-12-31")
    months = {int(d[5:7]) for d in got}
    assert months == {2, 4, 6, 8, 10, 12}
    assert "2027-02-09" in got and "2027-02-26" in got  # 2nd Tuesday, 4th Friday of February
    assert len(got) == 12


def test_full_width_colon_and_digits_read_the_same():
    assert days_of("火２：４", "2027-01-01", "2027-12-31") == days_of("火2:4", "2027-01-01", "2027-12-31")


def test_single_dates_and_remark_references():
    rule = parse_cell("*1 20270115 20270716", remark_ids={1})
    assert rule.remarks == (1,)
    assert days_of("*1 20270115 20270716", "2027-01-01", "2027-12-31") == ["2027-01-15", "2027-07-16"]


def test_every_other_week_from_its_start_date():
    got = days_of("隔水20150114", "2027-01-01", "2027-01-31")
    assert got == ["2027-01-13", "2027-01-27"]
    assert all((date.fromisoformat(d) - date(2015, 1, 14)).days % 14 == 0 for d in got)
    # Nothing before the start date.
    assert days_of("隔水20270113", "2027-01-01", "2027-01-12") == []


def test_empty_cell_collects_nothing():
    assert parse_cell("").empty and parse_cell("  ").empty


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("月曜", "unknown token '月曜'"),
        ("水6", "unknown token '水6'"),
        ("火2:13", "month '13'"),
        ("火2:", "without months"),
        ("火2:4:5", "more than one ':'"),
        ("20270230", "not a real date"),
        ("隔水2015011", "unknown token"),
        ("隔水20151332", "not a real date"),
        ("*3", "remark 3"),
        ("20270115:4", "months after ':' apply to weekdays"),
    ],
)
def test_bad_cells_are_errors(cell, reason):
    with pytest.raises(CellError, match=reason):
        parse_cell(cell, remark_ids={1})


def test_bad_cell_is_reported_with_line_and_column(tmp_path):
    d = write_set(tmp_path / "g", {"燃やすごみ": "月 木", "不燃ごみ": "水9"})
    with pytest.raises(GarbageDataInvalid) as exc:
        parse_directory(d)
    assert str(exc.value).startswith("area_days.csv: line 2, column 不燃ごみ: unknown token '水9'")


# --- centres ---------------------------------------------------------------------------------


def test_both_centre_date_forms_pause_collection(tmp_path):
    rows = "第1センター,2026/12/29,2027/1/3\n第1センター,20270801,20270802\n"
    gset = parse_directory(
        write_set(tmp_path / "g", {"燃やすごみ": "月 木 土"}, centre="第1センター", center_rows=rows)
    )
    area = gset.areas[0]
    days = [d.isoformat() for d in area_days(gset, area, date(2026, 12, 26), date(2027, 1, 9))]
    # Skip, not shift: the pause's Monday/Thursday/Saturday are simply gone.
    assert days == ["2026-12-26", "2026-12-28", "2027-01-04", "2027-01-07", "2027-01-09"]
    assert date(2027, 8, 2) not in area_days(gset, area, date(2027, 7, 31), date(2027, 8, 7))
    assert parse_pause_date("2015/12/29") == parse_pause_date("20151229") == date(2015, 12, 29)


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            "第1センター,2026/13/01,2027/01/03\n",
            "center.csv: line 2, column 休止開始日: '2026/13/01' is not a real date",
        ),
        ("第1センター,12/29,2027/01/03\n", "center.csv: line 2, column 休止開始日: '12/29' is not a date"),
        ("第1センター,20270103,20261229\n", "center.csv: line 2, column 休止終了日: the pause ends before it starts"),
    ],
)
def test_bad_centre_dates(tmp_path, rows, message):
    with pytest.raises(GarbageDataInvalid, match=message):
        parse_directory(write_set(tmp_path / "g", {"燃やすごみ": "月"}, centre="第1センター", center_rows=rows))


def test_area_naming_an_unknown_centre(tmp_path):
    with pytest.raises(GarbageDataInvalid, match="line 2, column センター: centre 'どこか' is not in center.csv"):
        parse_directory(write_set(tmp_path / "g", {"燃やすごみ": "月"}, centre="どこか"))


# --- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_encodings_and_type_header(tmp_path, encoding):
    d = write_set(tmp_path / "g", {"燃やすごみ": "月"}, target_header="type", encoding=encoding)
    gset = parse_directory(d)
    assert gset.items[0].label == "燃やすごみ" and gset.areas[0].name == "テスト町"


def test_item_in_a_category_without_collection_days_is_a_warning(tmp_path):
    d = write_set(
        tmp_path / "g", {"燃やすごみ": "月"}, target="燃やすごみ,紙くず,,\n市で収集しないもの,タイヤ,販売店へ,\n"
    )
    gset = parse_directory(d)
    assert len(gset.items) == 2
    assert gset.warnings == ["target.csv: line 3, column label: category '市で収集しないもの' has no collection days"]


def test_biweekly_weekday_that_disagrees_with_its_date_is_a_warning(tmp_path):
    gset = parse_directory(write_set(tmp_path / "g", {"びん": "隔火20150114"}))
    assert "2015-01-14 is a 水曜日, not 火曜日" in gset.warnings[0]


def test_missing_file_and_columns(tmp_path):
    d = write_set(tmp_path / "g", {"燃やすごみ": "月"})
    (d / "target.csv").write_text("category,name\n燃やすごみ,紙\n", encoding="utf-8")
    with pytest.raises(GarbageDataInvalid, match="target.csv: line 1, column label: missing required column"):
        parse_directory(d)
    (d / "target.csv").unlink()
    with pytest.raises(GarbageDataInvalid, match="target.csv: line 0, column -: file missing"):
        parse_directory(d)


def test_duplicate_area_and_undecodable_bytes(tmp_path):
    d = write_set(tmp_path / "g", {"燃やすごみ": "月"})
    with (d / "area_days.csv").open("a", encoding="utf-8") as fh:
        fh.write("テスト町,,木\n")
    with pytest.raises(
        GarbageDataInvalid, match="line 3, column 地名: duplicate area 'テスト町' \\(first on line 2\\)"
    ):
        parse_directory(d)
    (d / "remarks.csv").write_bytes(b"ID,\x82\n1,\xff\xff\n")
    with pytest.raises(GarbageDataInvalid, match="remarks.csv: line 1, column #2: undecodable byte 0x82"):
        parse_directory(d)


def test_the_sample_set_uses_every_rule():
    gset = parse_directory(SAMPLE)
    assert gset.warnings == []
    cells = " ".join(c for a in gset.areas for c in a.cells.values())
    for marker in (":", "*1", "隔", "20270115", "水2"):
        assert marker in cells
    assert any(a.rules["燃やすごみ"].weekly for a in gset.areas)
    centre_file = (SAMPLE / "center.csv").read_text(encoding="utf-8")
    assert "2026/12/29" in centre_file and "20261229" in centre_file
    # Every sample area is a ward area of data/areas.csv (residents pick those).
    names = {
        line.split(",")[1] for line in (ROOT / "data" / "areas.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    }
    assert {a.name for a in gset.areas} == names


def test_next_collection_and_calendar_rows():
    gset = parse_directory(SAMPLE)
    area = gset.area("みどり一丁目")
    # 2026-12-29 .. 2027-01-03 is the centre's pause: the first 燃やすごみ after it is Monday 4 January.
    assert next_collection(gset, area, "燃やすごみ", date(2026, 12, 29)) == date(2027, 1, 4)
    assert next_collection(gset, area, "粗大ごみ", date(2026, 12, 29)) is None
    rows = calendar(gset, [area], date(2027, 1, 4), date(2027, 1, 4))
    assert rows == [{"area": "みどり一丁目", "date": "2027-01-04", "categories": ["燃やすごみ"]}]


# --- CLI: import, atomic replace, days --------------------------------------------------------


def test_cli_import_days_and_a_failed_reimport_keeps_the_old_set(runner, tmp_path):
    ok = write_set(tmp_path / "ok", {"燃やすごみ": "月 木", "不燃ごみ": "水2"})
    result = runner.invoke(args=["garbage", "import", str(ok)])
    assert result.exit_code == 0, result.output
    assert "1 areas" in result.output
    args = ["garbage", "days", "テスト町", "--from", "2027-01-04", "--to", "2027-01-17", "--json"]
    first = json.loads(runner.invoke(args=args).output)
    got = {(r["date"], c) for r in first for c in r["categories"]}
    assert ("2027-01-13", "不燃ごみ") in got and len(got) == 5

    bad = write_set(tmp_path / "bad", {"燃やすごみ": "火", "不燃ごみ": "水?"})
    result = runner.invoke(args=["garbage", "import", str(bad)])
    assert result.exit_code != 0
    assert "area_days.csv: line 2, column 不燃ごみ: unknown token '水?'" in result.output
    assert "previous data is still in use" in result.output
    assert json.loads(runner.invoke(args=args).output) == first

    other = write_set(tmp_path / "new", {"燃やすごみ": "火"})
    assert runner.invoke(args=["garbage", "import", str(other)]).exit_code == 0
    replaced = json.loads(runner.invoke(args=args).output)
    assert {r["date"] for r in replaced} == {"2027-01-05", "2027-01-12"}
    assert all(r["categories"] == ["燃やすごみ"] for r in replaced)


def test_cli_days_all_areas_by_code_and_errors(runner):
    assert runner.invoke(args=["garbage", "import", str(SAMPLE)]).exit_code == 0

    def rows(day):
        out = runner.invoke(args=["garbage", "days", "--from", day, "--to", day, "--json"]).output
        return {r["area"]: r["categories"] for r in json.loads(out)}

    # Saturday in both centres' year-end pause: nobody; a week later the Saturday areas.
    assert rows("2027-01-02") == {}
    saturday = rows("2027-01-09")
    assert saturday["桜ヶ丘一丁目"] == ["燃やすごみ"] and "みどり一丁目" not in saturday
    by_code = runner.invoke(
        args=["garbage", "days", "midori-1", "--from", "2027-01-04", "--to", "2027-01-04", "--json"]
    )
    assert json.loads(by_code.output)[0]["area"] == "みどり一丁目"
    unknown = runner.invoke(args=["garbage", "days", "どこか", "--from", "2027-01-04", "--to", "2027-01-05"])
    assert unknown.exit_code != 0 and "unknown area 'どこか'" in unknown.output
    backwards = runner.invoke(args=["garbage", "days", "--from", "2027-01-05", "--to", "2027-01-04"])
    assert backwards.exit_code != 0 and "before --from" in backwards.output
    bad_date = runner.invoke(args=["garbage", "days", "--from", "2027/01/05", "--to", "2027-01-06"])
    assert bad_date.exit_code != 0 and "not a date" in bad_date.output


def test_cli_days_before_any_import(runner):
    result = runner.invoke(args=["garbage", "days", "--from", "2027-01-04", "--to", "2027-01-05"])
    assert result.exit_code != 0 and "garbage import" in result.output
