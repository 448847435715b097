"""The ward's areas come from the configured AREAS_CSV everywhere, never from the sample file."""

from __future__ import annotations

import pytest

from alerts import service as alerts
from bot.runtime import runtime
from common.areas import Areas, AreasFileError
from tests import test_shelters_withdraw
from tests.conftest import say
from webhook import ConfigError, create_app

db = test_shelters_withdraw.db  # the fixture: the database with the sample shelters imported
# Other codes for the sample's areas, and one area the sample does not have.
AREAS = "code,name,kana\nm1,みどり一丁目,みどりいっちょうめ\nm2,みどり二丁目,みどりにちょうめ\nsk1,さくら一丁目,さくらいっちょうめ\n"


@pytest.fixture
def app_config(app_config, tmp_path):
    path = tmp_path / "our_areas.csv"
    path.write_text(AREAS, encoding="utf-8")
    return {**app_config, "AREAS_CSV": str(path)}


def test_the_consoles_opening_announcement_names_the_configured_areas(app, db):
    from tests.conftest import ROLE_USERS, create_staff, logged_in

    create_staff(db, ROLE_USERS["operator"], "operator")
    page = logged_in(app, "operator").get("/admin/alerts/new?shelter=E131999000101")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="m1" checked' in html  # the sample file would have said midori-1
    assert "midori-1" not in html
    assert "さくら一丁目" in html  # the configured file's areas are the choices


def test_a_resident_asking_for_an_area_only_the_configured_file_has(client, emulator, db):
    (reply,) = say(client, emulator, "さくら一丁目の避難所")
    assert "さくら一丁目" in reply["text"]


def test_alerts_resolve_the_configured_areas(app, db):
    assert alerts.resolve_areas(["さくら一丁目", "m1"]) == ["sk1", "m1"]
    with pytest.raises(alerts.InvalidAlert, match="若葉一丁目"):
        alerts.resolve_areas(["若葉一丁目"])  # in the sample file only


# --- the areas file is read once, when the app starts, and a file it cannot use stops the start ---


def _start_with(tmp_path, app_config, data: bytes):
    path = tmp_path / "bad_areas.csv"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as err:
        create_app({**app_config, "AREAS_CSV": str(path)})
    message = str(err.value)
    assert message.startswith("AREAS_CSV: ") and str(path) in message
    return message


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'code,name\nm1,"\xe3\x81\xbf\xe3\x81\xa9\xe3\x82\x8a\nm2,x\n', "line 2, column -"),  # unclosed quote
        ("code,name\nm1,みどり一丁目\nm2,\n".encode(), "line 3, column name"),  # an area without a name
        ("code,name\nm1,みどり一丁目\n,みどり二丁目\n".encode(), "line 3, column code"),  # a name without a code
        ("code,name\nm1,みどり一丁目\nm1,みどり二丁目\n".encode(), "line 3, column code"),  # the same code twice
        ("code,kana\nm1,みどり\n".encode(), "line 1, column name"),  # no name column
        (
            "code,name\nm1,みどり一丁目,余分\n".encode(),
            "line 2, column -: expected 2 fields",
        ),  # more cells than columns
        (b"code,name\n", "line 2, column code"),  # no area at all
        (b"", "line 1"),  # empty file
        (b"code,name\nm1,\x81\x7f\n", "line 2"),  # neither UTF-8 nor CP932
    ],
)
def test_an_unusable_areas_file_stops_the_start_naming_file_line_and_column(app_config, tmp_path, data, where):
    assert where in _start_with(tmp_path, app_config, data)


def test_a_missing_areas_file_stops_the_start(app_config, tmp_path):
    missing = tmp_path / "nowhere" / "areas.csv"
    with pytest.raises(ConfigError, match="AREAS_CSV: .*nowhere/areas.csv: cannot be read"):
        create_app({**app_config, "AREAS_CSV": str(missing)})


def test_an_excel_cp932_areas_file_is_read(app_config, tmp_path):
    path = tmp_path / "cp932.csv"
    path.write_bytes("code,name,kana\nm1,みどり一丁目,みどりいっちょうめ\n".encode("cp932"))
    app = create_app({**app_config, "AREAS_CSV": str(path)})
    assert runtime(app).areas.names() == {"m1": "みどり一丁目"}


def test_staff_edits_take_effect_at_the_next_start(app_config, tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS, encoding="utf-8")
    app = create_app({**app_config, "AREAS_CSV": str(path)})
    path.write_text(AREAS + "sk2,さくら二丁目,さくらにちょうめ\n", encoding="utf-8")
    assert "sk2" not in runtime(app).areas  # the running app keeps what it started with
    assert "sk2" in runtime(create_app({**app_config, "AREAS_CSV": str(path)})).areas


def test_the_areas_object_answers_every_question_asked_of_areas(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS, encoding="utf-8-sig")
    areas = Areas.load(path)
    assert [a.code for a in areas] == ["m1", "m2", "sk1"] and len(areas) == 3
    assert areas.name("sk1") == "さくら一丁目" and areas.name("gone") == "gone"
    assert areas.resolve(["みどりにちょうめ", "m1", "m2", "若葉"]) == (["m2", "m1"], ["若葉"])
    assert [a.code for a in areas.find("さくら1丁目に住んでいます")] == ["sk1"]
    assert [a.code for a in areas.find("みどり")] == ["m1", "m2"]
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(AreasFileError, match=r"empty.csv: line 1, column -: empty file"):
        Areas.load(tmp_path / "empty.csv")
