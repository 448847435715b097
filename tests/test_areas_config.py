"""The ward's areas come from the configured AREAS_CSV everywhere, never from the sample file."""

from __future__ import annotations

import pytest

from alerts import service as alerts
from tests import test_shelters_withdraw
from tests.conftest import say

db = test_shelters_withdraw.db  # the fixture: the database with the sample shelters imported
# Other codes for the sample's areas, and one area the sample does not have.
AREAS = "code,name,kana\nm1,みどり一丁目,みどりいっちょうめ\nm2,みどり二丁目,みどりにちょうめ\nsk1,さくら一丁目,さくらいっちょうめ\n"


@pytest.fixture
def app_config(app_config, tmp_path):
    path = tmp_path / "our_areas.csv"
    path.write_text(AREAS, encoding="utf-8")
    return {**app_config, "AREAS_CSV": str(path)}


def test_the_consoles_opening_announcement_names_the_configured_areas(app, db):
    from common import security
    from store import admin as admin_store
    from tests.test_admin import PASSWORD, ROLE_USERS, logged_in

    admin_store.create_user(db, ROLE_USERS["operator"], "operator", security.hash_password(PASSWORD))
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
