"""Shelter import: the three published formats, real-world quirks, every bad input rejected whole."""

from __future__ import annotations

import pytest

from bot.runtime import runtime
from common.areas import Areas
from shelters import service
from shelters.importer import (
    FORMAT_GSI_CSV,
    FORMAT_GSI_GEOJSON,
    FORMAT_STANDARD,
    ShelterFileInvalid,
    parse_bytes,
    parse_capacity,
    parse_flag,
    read_shelters,
)
from tests.conftest import ROOT
from tests.test_shelters_fixtures import (
    MATSUYAMA,
    SAMPLE,
    gsi_csv,
    gsi_geojson,
    gsi_row,
    standard_csv,
    standard_row,
    write,
)


def test_real_matsuyama_file_with_its_quirks():
    parsed = read_shelters(MATSUYAMA)
    assert parsed.format == FORMAT_STANDARD
    assert len(parsed.records) == 390
    by_id = {r.source_id: r for r in parsed.records}
    shiroyama = by_id["E3820100602201"]
    assert shiroyama.name == "城山公園"
    assert shiroyama.capacity == 50700  # "50,700 " in the file
    assert (shiroyama.lat, shiroyama.lon) == (33.84199297, 132.7618544)
    assert shiroyama.hazards == ("storm_surge", "earthquake", "tsunami", "fire")
    assert shiroyama.address == "愛媛県松山市堀之内"
    assert all(r.capacity is not None for r in parsed.records)  # two rows say 0
    assert all("earthquake" in r.hazards for r in parsed.records)  # 地震 is 1 on every row
    assert sum("flood" in r.hazards for r in parsed.records) == 137
    assert sum(r.is_shelter for r in parsed.records) == 151  # 指定避難所との重複 = 1
    assert len({r.source_id for r in parsed.records}) == 390


def test_sample_file_is_valid_and_uses_the_ward_areas():
    parsed = read_shelters(SAMPLE)
    assert parsed.format == FORMAT_STANDARD
    assert 20 <= len(parsed.records) <= 30
    areas = {a.name for a in Areas.load(ROOT / "data" / "areas.csv")}
    for rec in parsed.records:
        assert rec.areas and set(rec.areas) <= areas, rec
        assert abs(rec.lat - 35.70) < 0.05 and abs(rec.lon - 139.65) < 0.05
        assert rec.hazards and rec.capacity


def test_cp932_file_with_circle_flags(tmp_path):
    rows = [
        standard_row("S1", "みどり小学校", 35.70, 139.65, flags="洪水,地震", capacity="１，２００人", flag="○"),
        standard_row("S2", "若葉公園", 35.71, 139.64, flags="大規模な火事", capacity="", flag="◯"),
    ]
    path = write(tmp_path / "cp932.csv", standard_csv(rows), encoding="cp932")
    parsed = read_shelters(path)
    assert [r.source_id for r in parsed.records] == ["S1", "S2"]
    assert parsed.records[0].hazards == ("flood", "earthquake")
    assert parsed.records[0].capacity == 1200
    assert parsed.records[1].hazards == ("fire",)
    assert parsed.records[1].capacity is None


def test_gsi_csv(tmp_path):
    rows = [
        gsi_row("13199-001", "若葉公園", 35.71, 139.64, "地震,大規模な火事"),
        gsi_row("13199-002", "泉小学校", 35.69, 139.63, "洪水"),
    ]
    parsed = read_shelters(write(tmp_path / "gsi.csv", "\ufeff" + gsi_csv(rows)))
    assert parsed.format == FORMAT_GSI_CSV
    assert [(r.source_id, r.hazards) for r in parsed.records] == [
        ("13199-001", ("earthquake", "fire")),
        ("13199-002", ("flood",)),
    ]
    assert parsed.records[0].address == "東京都みどり区若葉公園2-2"


def test_gsi_geojson(tmp_path):
    rows = [
        gsi_row("13199-001", "若葉公園", 35.71, 139.64, "地震"),
        gsi_row("13199-002", "泉小学校", 35.69, 139.63, "津波"),
    ]
    parsed = read_shelters(write(tmp_path / "gsi.geojson", gsi_geojson(rows)))
    assert parsed.format == FORMAT_GSI_GEOJSON
    first = parsed.records[0]
    assert (first.source_id, first.lat, first.lon, first.hazards) == ("13199-001", 35.71, 139.64, ("earthquake",))


def test_cell_parsers():
    assert parse_capacity("50,700 ") == 50700
    assert parse_capacity(" ") is None
    assert parse_flag("1") and parse_flag("○") and parse_flag("〇") and not parse_flag("") and not parse_flag("0")
    with pytest.raises(ValueError):
        parse_flag("たぶん")
    with pytest.raises(ValueError):
        parse_capacity("たくさん")


def _good(**over):
    return standard_row(
        over.pop("sid", "S1"), over.pop("name", "みどり小学校"), over.pop("lat", 35.70), over.pop("lon", 139.65), **over
    )


def _bad_files() -> dict[str, tuple[bytes, str]]:
    std = lambda rows, header=None: standard_csv(rows, header).encode("utf-8")  # noqa: E731
    no_lat = [h for h in standard_csv([]).splitlines()[0].split(",") if h != "緯度"]
    multiline = _good(sid="S1", 備考="一行目\n二行目")
    undecodable = std([_good(sid="S1"), _good(sid="S2")])
    i = undecodable.find("S2,みどり小学校".encode()) + 3
    undecodable = undecodable[:i] + b"\xff\xfe" + undecodable[i + 3 :]
    geo_ok = gsi_geojson([gsi_row("G1", "若葉公園", 35.71, 139.64), gsi_row("G2", "泉小学校", 35.69, 139.63)])
    broken_geo = geo_ok.replace('"type": "Point", ', '"type": "Point" ', 1)
    no_geometry = geo_ok.replace('"geometry": {"type": "Point", "coordinates": [139.63, 35.69]}', '"geometry": null')
    return {
        "missing column": (std([_good()], no_lat), "line 1, column 緯度: required column missing"),
        "no id column": (b"name,lat\nx,1\n", "line 1, column ID: required column missing"),
        "bad latitude": (
            std([_good(sid="S1"), _good(sid="S2", lat="北緯35度")]),
            "line 3, column 緯度: '北緯35度' is not a number",
        ),
        "latitude outside Japan": (std([_good(lat="95.1")]), "line 2, column 緯度: 95.1 is outside Japan"),
        "longitude empty": (std([_good(lon="")]), "line 2, column 経度: is empty"),
        "swapped coordinates": (
            std([_good(lat="139.65", lon="35.70")]),
            "line 2, column 緯度: 緯度 139.65 and 経度 35.7 look swapped",
        ),
        "duplicate id": (
            std([_good(sid="S1"), _good(sid="S2"), _good(sid="S1")]),
            "line 4, column ID: duplicate ID S1 (first on line 2)",
        ),
        "duplicate id after a multi-line cell": (
            std([multiline, _good(sid="S1")]),
            "line 4, column ID: duplicate ID S1 (first on line 2)",
        ),
        "empty id": (std([_good(sid="")]), "line 2, column ID: is empty"),
        "bad capacity": (std([_good(capacity="たくさん")]), "line 2, column 想定収容人数: capacity must be a number"),
        "bad flag": (
            std([_good(flags="洪水", flag="?")]),
            "line 2, column 災害種別_洪水: hazard flag must be 1, ○ or empty",
        ),
        "undecodable bytes": (undecodable, "line 3, column 名称: undecodable byte 0xff"),
        "broken geojson": (broken_geo.encode(), "line 2, column "),
        "geojson feature without geometry": (
            no_geometry.encode(),
            "line 3, column geometry: feature 2 needs a Point geometry",
        ),
        "geojson that is not a collection": (
            b'{"type": "Feature"}',
            "line 1, column type: GeoJSON must be a FeatureCollection",
        ),
        "empty file": (b"", "line 1"),
    }


BAD = _bad_files()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_rejected_with_line_and_column(case):
    data, expected = BAD[case]
    with pytest.raises(ShelterFileInvalid) as info:
        parse_bytes(data)
    messages = [str(e) for e in info.value.errors]
    assert any(m.startswith(expected) for m in messages), messages
    assert all(m.startswith("line ") and ", column " in m for m in messages)


def test_broken_geojson_names_the_json_position():
    _, expected = BAD["broken geojson"]
    with pytest.raises(ShelterFileInvalid) as info:
        parse_bytes(BAD["broken geojson"][0])
    assert "broken GeoJSON: Expecting ',' delimiter" in str(info.value.errors[0])


def test_every_error_is_listed_not_just_the_first():
    data = standard_csv([_good(sid="S1", lat="x"), _good(sid="S2", capacity="?"), _good(sid="S1")]).encode()
    with pytest.raises(ShelterFileInvalid) as info:
        parse_bytes(data)
    assert [(e.line, e.column) for e in info.value.errors] == [(2, "緯度"), (3, "想定収容人数")]


@pytest.mark.parametrize(
    "case", ["bad latitude", "duplicate id", "undecodable bytes", "broken geojson", "missing column"]
)
def test_cli_rejects_a_bad_file_whole_and_changes_nothing(runner, app, tmp_path, case):
    assert runner.invoke(args=["shelters", "import", str(SAMPLE)]).exit_code == 0
    with app.app_context():
        before = service.list_shelters(runtime(app).store.db)
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD[case][0])
    result = runner.invoke(args=["shelters", "import", str(path)])
    assert result.exit_code != 0
    assert BAD[case][1] in result.output
    assert "nothing was changed" in result.output
    with app.app_context():
        assert service.list_shelters(runtime(app).store.db) == before


def test_cli_imports_each_format(runner, app, tmp_path):
    rows = [gsi_row("G1", "若葉公園", 35.71, 139.64, "地震"), gsi_row("G2", "泉小学校", 35.69, 139.63, "洪水")]
    std = [_good(sid="S9", flags="地震", flag="○", capacity="1,000 ")]
    files = {
        "m.csv": (MATSUYAMA.read_bytes(), "imported 390 shelters (自治体標準): 390 added"),
        "g.csv": (gsi_csv(rows).encode("cp932"), "imported 2 shelters (GSI CSV): 2 added"),
        "g.geojson": (gsi_geojson(rows).encode(), "imported 2 shelters (GSI GeoJSON): 0 added, 0 updated, 2 unchanged"),
        "s.csv": (standard_csv(std).encode("cp932"), "imported 1 shelters (自治体標準): 1 added"),
    }
    for name, (data, expected) in files.items():
        (tmp_path / name).write_bytes(data)
        result = runner.invoke(args=["shelters", "import", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert expected in result.output
    with app.app_context():
        assert len(service.list_shelters(runtime(app).store.db)) == 393
