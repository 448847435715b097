"""The pure parts of reports: kinds CSV, photo processing, the dialogue's state machine, places, Open311 mapping."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, PngImagePlugin

from excelcsv import CsvInvalid
from reports import flow, geo, images, open311
from reports.flow import Draft, FlowError, StoredPhoto
from reports.kinds import load_kinds, parse_kinds
from reports.media import DirectoryMediaStore, valid_name
from tests.reports_helpers import has_exif, jpeg_with_gps

HEADER = "code,name,department,name_en\n"


def _errors(data: bytes) -> list[str]:
    with pytest.raises(CsvInvalid) as exc:
        parse_kinds(data)
    return [str(e) for e in exc.value.errors]


def test_the_wards_kinds_file_is_valid():
    from webhook import DEFAULTS

    kinds = load_kinds(DEFAULTS["REPORT_KINDS_CSV"])
    assert [k.name for k in kinds] == [
        "道路・歩道の損傷",
        "街路灯・防犯灯",
        "公園・遊具",
        "不法投棄",
        "カーブミラー・標識",
        "その他",
    ]
    assert kinds[0].label("en") == "Road or sidewalk" and kinds[0].label("fr") == kinds[0].names["easy"]


def test_kinds_errors_name_line_and_column():
    assert _errors(b"code,title\nroad,x\n") == [
        "line 1, column name: required column is missing",
        "line 1, column title: unknown column",
    ]
    data = (
        HEADER
        + "road,道路,道路課,Road\nroad,道路2,,\nbad code,x,,\n,,,\nlight,街路灯・防犯灯・カーブミラー・標識など全部,,\n"
    ).encode()
    assert _errors(data) == [
        "line 3, column code: duplicate of line 2",
        "line 4, column code: use letters, digits, - or _ (at most 40)",
        "line 6, column name: longer than 20 characters (LINE's button label limit)",
    ]
    assert _errors((HEADER + "x,名前,,An English name longer than twenty\n").encode()) == [
        "line 2, column name_en: longer than 20 characters"
    ]
    assert _errors(HEADER.encode()) == ["line 2, column -: no report kinds"]
    many = HEADER + "".join(f"k{i},種類{i},,\n" for i in range(13))
    assert _errors(many.encode()) == ["line 1, column -: at most 12 kinds (LINE's quick reply limit)"]


def test_kinds_in_cp932_and_with_bom_as_excel_saves_them():
    text = HEADER + "road,道路・歩道の損傷,道路課,Road\n"
    assert parse_kinds(text.encode("cp932"))[0].name == "道路・歩道の損傷"
    assert parse_kinds(b"\xef\xbb\xbf" + text.encode())[0].department == "道路課"


def test_photos_lose_every_kind_of_metadata():
    photo = images.process(jpeg_with_gps())
    for data in (photo.full, photo.thumb):
        assert not has_exif(data)
        assert Image.open(io.BytesIO(data)).format == "JPEG"
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Taro Yamada")
    info.add_text("GPS", "35.7,139.6")
    buf = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 128, 0, 128)).save(buf, "PNG", pnginfo=info)
    out = images.process(buf.getvalue())
    assert b"Taro" not in out.full and b"GPS" not in out.full
    assert (out.width, out.height) == (50, 40)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a-not-really",
        b"%PDF-1.7\n" + b"x" * 100,
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100,
        b"\xff\xd8\xff\xe0trunc",
    ],
)
def test_non_images_are_refused(data):
    with pytest.raises(images.NotAnImage):
        images.process(data)


def test_too_large_photos_and_decompression_bombs_are_refused():
    with pytest.raises(images.PhotoTooLarge):
        images.process(b"\xff" * 101, max_bytes=100)
    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, "PNG")  # 81 Mpx in a few hundred kB
    with pytest.raises(images.PhotoTooLarge):
        images.process(buf.getvalue())


def test_orientation_applied():
    out = images.process(jpeg_with_gps(size=(300, 100), orientation=8))
    assert (out.width, out.height) == (100, 300)


def test_dialogue_order_and_either_first():
    d = Draft()
    assert flow.next_step(d) == flow.PHOTO
    p = StoredPhoto("a", "b", 1, 1)
    assert flow.next_step(flow.add_photo(d, p)) == flow.PLACE
    placed = flow.set_location(d, 35.7, 139.65, None, "midori-1", 100, 3000)
    assert flow.next_step(placed) == flow.PHOTO
    both = flow.add_photo(placed, p)
    assert flow.next_step(both) == flow.KIND
    assert flow.next_step(flow.set_kind(both, "road", {"road"})) == flow.DESCRIPTION
    done = flow.set_description(flow.set_kind(both, "road", {"road"}), None)
    assert flow.next_step(done) == flow.CONFIRM and done.description == ""
    with pytest.raises(FlowError):
        flow.set_kind(both, "nope", {"road"})
    with pytest.raises(FlowError) as exc:
        flow.set_description(both, "あ" * 201)
    assert exc.value.key == "report_description_too_long" and exc.value.fields["got"] == 201
    three = flow.add_photo(flow.add_photo(flow.add_photo(d, p), p), p)
    with pytest.raises(FlowError):
        flow.add_photo(three, p)
    far = flow.set_location(d, 34.7, 135.5, None, "midori-1", 400_000, 3000)
    assert flow.next_step(far) == flow.FAR and far.area_code is None
    assert flow.next_step(flow.confirm_outside(far)) == flow.PHOTO
    assert Draft.from_json(three.to_json()) == three


def test_typed_address_names_the_longest_matching_area():
    names = {"midori-1": "みどり一丁目", "kawabata-1": "川端一丁目", "x": "川端"}
    d = flow.set_address(Draft(), "  川端一丁目  9番 の角 ", names)
    assert d.address == "川端一丁目 9番 の角" and d.area_code == "kawabata-1"
    assert flow.set_address(Draft(), "駅の北口", names).area_code is None
    with pytest.raises(FlowError):
        flow.set_address(Draft(), "x", names)


def test_nearest_area_and_distance():
    pts = [geo.AreaPoint("a", "A", 35.70, 139.65), geo.AreaPoint("b", "B", 35.71, 139.66)]
    area, d = geo.nearest_area(pts, 35.7005, 139.6505)
    assert area.code == "a" and 60 < d < 80
    assert geo.nearest_area([], 0, 0) == (None, float("inf"))
    assert 400_000 < geo.distance_m(35.68, 139.77, 34.70, 135.50) < 410_000  # Tokyo → Osaka


def test_open311_never_shows_unapproved_text_or_the_reporter():
    row = {
        "id": 7,
        "kind": "road",
        "kind_name": "道路",
        "description": "私の家の前です 090-xxxx",
        "description_public": 0,
        "lat": 35.7,
        "lon": 139.65,
        "address": "みどり一丁目3-1 山田様方",
        "area_code": "midori-1",
        "status": "done",
        "status_notes": "",
        "department": "道路課",
        "created_at": 1_764_547_200.0,
        "updated_at": 1_764_550_800.0,
        "duplicate_of": None,
        "photo": "p" * 32 + ".jpg",
        "user_id": "Uxxxx",
    }
    req = open311.request(row, {"midori-1": "みどり一丁目"}, ZoneInfo("Asia/Tokyo"), lambda n: f"https://x/m/{n}")
    assert req["description"] == "" and req["address"] == "みどり一丁目" and req["status"] == "closed"
    assert req["requested_datetime"] == "2025-12-01T09:00:00+09:00"
    assert "Uxxxx" not in str(req) and "山田" not in str(req)
    req = open311.request({**row, "description_public": 1}, {"midori-1": "みどり一丁目"}, ZoneInfo("UTC"), str)
    assert req["description"].startswith("私の家") and "山田様方" in req["address"]


def test_media_names_are_random_and_paths_cannot_escape(tmp_path):
    media = DirectoryMediaStore(tmp_path)
    a, b = media.put(b"1"), media.put(b"2")
    assert a != b and valid_name(a) and len(a) >= 32
    assert media.get(a) == b"1"
    assert media.get("../../etc/passwd") is None and not valid_name("../x.jpg")
    media.delete(a)
    assert media.get(a) is None


def test_cli_validates_the_kinds_file(runner, tmp_path):
    from webhook import DEFAULTS

    ok = runner.invoke(args=["reports", "validate-kinds", DEFAULTS["REPORT_KINDS_CSV"]])
    assert ok.exit_code == 0 and "OK: 6 種類" in ok.output
    bad = tmp_path / "kinds.csv"
    bad.write_text("code,name\nroad,道路\nroad,道路\n", encoding="utf-8")
    res = runner.invoke(args=["reports", "validate-kinds", str(bad)])
    assert res.exit_code != 0 and "line 3, column code: duplicate of line 2" in res.output
    swept = runner.invoke(args=["reports", "sweep"])
    assert swept.exit_code == 0 and "期限切れの下書き 0 件" in swept.output
