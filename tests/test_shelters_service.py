"""Shelter status, history, re-import, nearest search, alert hand-off, public endpoints."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from bot.runtime import runtime
from common.areas import Areas
from shelters import service
from shelters.importer import HAZARDS
from store import audit
from store import shelters as shelter_store
from tests.conftest import ROOT
from tests.test_shelters_fixtures import MATSUYAMA, SAMPLE, standard_csv, standard_row, write

pytestmark = pytest.mark.both_engines


@pytest.fixture
def sample_db(db):
    service.import_file(db, SAMPLE, by="test")
    return db


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_status_change_is_recorded_with_who_and_when_and_audited(sample_db):
    sid = service.list_shelters(sample_db)[0]["source_id"]
    out = service.set_status(sample_db, sid, "open", by="op-a")
    assert (out["status"], out["previous_status"], out["head_count"]) == ("open", "closed", None)
    service.set_status(sample_db, sid, "crowded", count=180, by="op-b", source="web 203.0.113.5")
    service.set_status(sample_db, sid, "満", by="op-b")  # Japanese labels accepted
    history = service.status_history(sample_db, sid)
    assert [(h["status"], h["previous_status"], h["by"]) for h in history] == [
        ("full", "crowded", "op-b"),
        ("crowded", "open", "op-b"),
        ("open", "closed", "op-a"),
    ]
    assert history[1]["head_count"] == 180 and history[1]["via"] == "web 203.0.113.5"
    assert history[0]["at"].endswith("+09:00")
    shelter = service.get_shelter(sample_db, sid)
    assert shelter["status"] == "full" and shelter["status_by"] == "op-b"
    entries = audit.entries(sample_db, target=sid, action_prefix="shelter.status")
    assert len(entries) == 3 and json.loads(entries[0]["detail"])["status"] == "full"


def test_invalid_status_unknown_shelter_and_missing_operator(sample_db):
    sid = service.list_shelters(sample_db)[0]["source_id"]
    with pytest.raises(service.UnknownShelter):
        service.set_status(sample_db, "NO-SUCH", "open", by="op")
    with pytest.raises(service.UnknownShelter):
        service.get_shelter(sample_db, "NO-SUCH")
    with pytest.raises(service.UnknownShelter):
        service.status_history(sample_db, "NO-SUCH")
    for bad in [dict(status="opened", by="op"), dict(status="open", by=" "), dict(status="open", by="op", count=-1)]:
        with pytest.raises(service.InvalidStatus):
            service.set_status(sample_db, sid, **bad)
    assert service.status_history(sample_db, sid) == []


def test_reimport_updates_data_by_id_and_keeps_status_history(sample_db, tmp_path, emulator):
    first = service.list_shelters(sample_db)[0]
    sid = first["source_id"]
    service.set_status(sample_db, sid, "open", count=40, by="op-a")
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))))
    rows[0]["所在地_連結表記"] = "東京都みどり区みどり一丁目3-1（新校舎）"
    rows.append(standard_row("E131999999901", "新設公園", 35.702, 139.651, flags="地震"))
    changed = write(tmp_path / "v2.csv", standard_csv(rows))
    result = service.import_file(sample_db, changed, by="op-a")
    assert (result.added, result.updated, result.unchanged) == (1, 1, len(rows) - 2)
    after = service.get_shelter(sample_db, sid)
    assert after["address"].endswith("（新校舎）")
    assert (after["status"], after["head_count"], after["status_by"]) == ("open", 40, "op-a")
    assert len(service.status_history(sample_db, sid)) == 1
    # Editing data never notifies anyone.
    assert emulator.messages() == []


def test_nearest_orders_by_distance_filters_open_and_hazard(sample_db):
    here = (35.7012, 139.6488)  # みどり小学校
    all_near = service.nearest(sample_db, *here, limit=26, only_open=False)
    assert len(all_near) == 26
    distances = [s["distance_m"] for s in all_near]
    assert distances == sorted(distances) and distances[0] < 5
    for s in all_near[:5]:
        assert s["distance_m"] == pytest.approx(haversine_m(*here, s["lat"], s["lon"]), abs=0.2)
    assert service.nearest(sample_db, *here) == []  # nothing open yet
    second, far = all_near[1]["source_id"], all_near[10]["source_id"]
    service.set_status(sample_db, far, "open", by="op")
    service.set_status(sample_db, second, "crowded", by="op")
    service.set_status(sample_db, all_near[2]["source_id"], "full", by="op")
    found = service.nearest(sample_db, *here)
    assert [s["source_id"] for s in found] == [second, far]
    assert service.nearest(sample_db, *here, max_distance_m=all_near[5]["distance_m"]) == found[:1]
    # Hazard: parks have 大規模な火事, schools do not.
    fire = service.nearest(sample_db, *here, hazard="fire", limit=30, only_open=False)
    assert fire and all("fire" in s["hazards"] for s in fire)
    assert len(fire) < 26
    with pytest.raises(ValueError):
        service.nearest(sample_db, *here, hazard="meteor")


def test_nearest_cache_follows_status_changes(sample_db):
    here = (35.7012, 139.6488)
    sid = service.nearest(sample_db, *here, only_open=False, limit=1)[0]["source_id"]
    service.set_status(sample_db, sid, "open", by="op")
    assert service.nearest(sample_db, *here, limit=1)[0]["source_id"] == sid
    service.set_status(sample_db, sid, "closed", by="op")
    assert all(s["source_id"] != sid for s in service.nearest(sample_db, *here))


def test_opening_alert_fields_match_area_codes(sample_db):
    school = next(s for s in service.list_shelters(sample_db) if s["name"] == "都立みどりの丘公園")
    areas = Areas.load(ROOT / "data" / "areas.csv")
    fields = service.opening_alert_fields(school, areas)
    assert fields["shelter_name"] == "都立みどりの丘公園"
    assert fields["address"] == school["address"]
    assert fields["areas"] == ["midori-2", "kashiwagi"]
    assert fields["area_names"] == ["みどり二丁目", "柏木町"]
    assert fields["template_fields"] == {
        "shelter_name": "都立みどりの丘公園",
        "address": school["address"],
        "areas": "みどり二丁目、柏木町",
    }
    # No 対象 column (Matsuyama): nothing matches, the operator picks areas.
    assert service.opening_alert_fields({**school, "areas": [], "address": "愛媛県松山市堀之内"}, areas)["areas"] == []
    # Area named in the address.
    assert service.opening_alert_fields({**school, "areas": [], "address": "東京都みどり区若葉二丁目1"}, areas)[
        "areas"
    ] == ["wakaba-2"]


def test_seed_loads_the_sample_once_and_never_over_imported_data(app, tmp_path):
    with app.app_context():
        store = runtime(app).store
        assert service.ensure_seeded(store, SAMPLE) == 26
        assert service.ensure_seeded(store, SAMPLE) is None
        assert shelter_store.count_shelters(store.db) == 26


def test_cli_status_prints_the_alert_command_and_refuses_unknown_ids(runner, app):
    assert runner.invoke(args=["shelters", "import", str(SAMPLE)]).exit_code == 0
    result = runner.invoke(args=["shelters", "status", "E131999002601", "open", "--count", "12", "--by", "tanaka"])
    assert result.exit_code == 0, result.output
    assert "閉鎖 → 開設" in result.output
    assert "NOT notified" in result.output
    cmd = result.output.strip().splitlines()[-1]
    assert cmd.startswith(
        "flask --app webhook alert create --template shelter_open --field 'shelter_name=都立みどりの丘公園'"
    )
    assert "--area midori-2 --area kashiwagi --by tanaka" in cmd
    again = runner.invoke(args=["shelters", "status", "E131999002601", "crowded", "--by", "tanaka"])
    assert again.exit_code == 0 and "alert create" not in again.output
    bad = runner.invoke(args=["shelters", "status", "NO-SUCH-SHELTER", "open", "--by", "tanaka"])
    assert bad.exit_code != 0 and "no shelter has the id 'NO-SUCH-SHELTER'" in bad.output
    assert runner.invoke(args=["shelters", "status", "E131999002601", "open"]).exit_code != 0  # --by required
    history = runner.invoke(args=["shelters", "history", "E131999002601"])
    assert "開設 → 混雑" in history.output and "by tanaka" in history.output
    listing = runner.invoke(args=["shelters", "list", "--status", "crowded"])
    assert "E131999002601\t混雑" in listing.output


def test_every_shelter_command_has_help_with_an_example(runner):
    for cmd in ("import", "status", "list", "history"):
        result = runner.invoke(args=["shelters", cmd, "--help"])
        assert result.exit_code == 0 and "Example: flask --app webhook shelters " + cmd in result.output


def test_public_endpoints_shapes(client, app):
    with app.app_context():
        db = runtime(app).store.db
        service.import_file(db, SAMPLE, by="test")
        service.set_status(db, "E131999000101", "crowded", count=300, by="op-secret-name")
    data = client.get("/shelters.json")
    assert data.status_code == 200 and data.headers["Access-Control-Allow-Origin"] == "*"
    body = data.get_json()
    assert body["count"] == 26
    first = next(s for s in body["shelters"] if s["id"] == "E131999000101")
    assert {"id", "name", "address", "lat", "lon", "hazards", "capacity", "status", "head_count", "updated_at"} <= set(
        first
    )
    assert (first["status"], first["head_count"], first["capacity"]) == ("crowded", 300, 850)
    assert set(first["hazards"]) <= set(HAZARDS) and "earthquake" in first["hazards"]
    assert "op-secret-name" not in data.get_data(as_text=True)  # who set it is not published
    geo = client.get("/shelters.geojson")
    assert geo.mimetype == "application/geo+json"
    g = geo.get_json()
    assert g["type"] == "FeatureCollection" and len(g["features"]) == 26
    feat = next(f for f in g["features"] if f["properties"]["id"] == "E131999000101")
    assert feat["geometry"] == {"type": "Point", "coordinates": [first["lon"], first["lat"]]}
    assert feat["properties"]["status"] == "crowded" and "updated_at" in feat["properties"]
    text = client.get("/shelters.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0]) == [
        "id",
        "name",
        "address",
        "lat",
        "lon",
        "hazards",
        "capacity",
        "status",
        "head_count",
        "updated_at",
    ]
    row = next(r for r in rows if r["id"] == "E131999000101")
    assert (row["status"], row["head_count"], row["capacity"]) == ("crowded", "300", "850")
    assert "earthquake" in row["hazards"].split("|")


def test_public_endpoints_seed_the_sample_on_first_use(client):
    body = client.get("/shelters.json").get_json()
    assert body["count"] == 26 and all(s["status"] == "closed" for s in body["shelters"])


def test_csv_export_escapes_formulas(client, app, tmp_path):
    path = write(tmp_path / "evil.csv", standard_csv([standard_row("X1", '=HYPERLINK("http://x")', 35.7, 139.65)]))
    with app.app_context():
        service.import_file(runtime(app).store.db, path, by="test")
    text = client.get("/shelters.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_matsuyama_import_and_nearest(db):
    service.import_file(db, MATSUYAMA, by="test")
    near = service.nearest(db, 33.8420, 132.7619, limit=3, only_open=False)
    assert near[0]["source_id"] == "E3820100602201" and near[0]["distance_m"] < 20
