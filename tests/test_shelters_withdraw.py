"""A re-import is the source's whole list: shelters it no longer lists are withdrawn, not kept."""

from __future__ import annotations

import json

import pytest

from shelters import service
from store import audit
from store import shelters as shelter_store
from tests.test_shelters_fixtures import SAMPLE, gsi_csv, gsi_geojson, gsi_row, write

pytestmark = pytest.mark.both_engines


@pytest.fixture
def db(db):
    service.import_file(db, SAMPLE, by="test")
    return db


def _sample_without(tmp_path, keep_rows):
    lines = SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], lines[1:]
    kept = [r for i, r in enumerate(rows) if keep_rows(i)]
    return write(tmp_path / "sample_reimport.csv", "\n".join([header, *kept]) + "\n"), rows


def _sid(row: str) -> str:
    return row.split(",")[1]


def test_shelter_missing_from_a_reimport_is_withdrawn_with_its_history_and_back_when_listed_again(app, db, tmp_path):
    path, rows = _sample_without(tmp_path, lambda i: i != 0)
    gone = _sid(rows[0])
    before = service.get_shelter(db, gone)
    service.set_status(db, gone, "open", count=10, by="op-a")
    assert gone in [s["source_id"] for s in service.nearest(db, before["lat"], before["lon"])]

    result = service.import_file(db, path, by="op-b")
    assert (result.withdrawn, result.reinstated, result.added) == (1, 0, 0)
    assert gone not in [s["source_id"] for s in service.list_shelters(db)]
    assert gone not in [s["source_id"] for s in service.nearest(db, before["lat"], before["lon"], limit=50)]
    for area in before["areas"]:
        assert gone not in [s["source_id"] for s in service.shelters_for_area(db, area)]
    client = app.test_client()
    for url in ("/shelters.json", "/shelters.geojson", "/shelters.csv"):
        body = client.get(url).get_data(as_text=True)
        assert gone not in body and _sid(rows[1]) in body, url
    assert [h["status"] for h in service.status_history(db, gone)] == ["open"]  # history kept
    assert shelter_store.count_shelters(db) == len(rows) - 1

    back = service.import_file(db, SAMPLE, by="op-b")
    assert (back.withdrawn, back.reinstated) == (0, 1)
    assert gone in [s["source_id"] for s in service.list_shelters(db)]
    assert service.get_shelter(db, gone)["status"] == "open"  # status survived the withdrawal


def test_withdrawing_more_than_half_is_refused_unless_allowed(app, db, tmp_path):
    path, rows = _sample_without(tmp_path, lambda i: i == 0)  # a truncated export: one row left
    version = shelter_store.data_version(db)
    with pytest.raises(shelter_store.MassWithdrawal) as err:
        service.import_file(db, path, by="op")
    assert f"{len(rows)} か所中 {len(rows) - 1} か所" in str(err.value)
    assert shelter_store.count_shelters(db) == len(rows) and shelter_store.data_version(db) == version

    runner = app.test_cli_runner()
    out = runner.invoke(args=["shelters", "import", str(path), "--by", "op"])
    assert out.exit_code != 0 and "--allow-withdraw" in out.output and "何も変更していません" in out.output
    assert shelter_store.count_shelters(db) == len(rows)
    out = runner.invoke(args=["shelters", "import", str(path), "--by", "op", "--allow-withdraw"])
    assert out.exit_code == 0, out.output
    assert f"{len(rows) - 1} withdrawn" in out.output
    named = [line.split("\t")[0].strip() for line in out.output.splitlines() if line.startswith("  E")]
    assert len(named) == 20 and set(named) <= {_sid(r) for r in rows[1:]}  # the summary names them
    assert f"… and {len(rows) - 1 - 20} more" in out.output
    assert [s["source_id"] for s in service.list_shelters(db)] == [_sid(rows[0])]
    entries = [json.loads(e["detail"]) for e in audit.entries(db, action_prefix="shelter.import")]
    assert entries[0]["withdrawn"] == len(rows) - 1


def test_another_municipality_import_withdraws_nothing_here(db):
    from tests.test_shelters_fixtures import MATSUYAMA

    if not MATSUYAMA.exists():
        pytest.skip("shared Matsuyama file not present")
    before = shelter_store.count_shelters(db)
    result = service.import_file(db, MATSUYAMA, by="op")
    assert result.withdrawn == 0
    assert shelter_store.count_shelters(db) == before + result.added


def test_hazard_order_is_pinned_and_shared():
    """hazard_bits is persisted: bit i = HAZARDS[i]; alerts and the importer use the same keys."""
    from alerts.service import HAZARDS as ALERT_HAZARDS
    from shelters.importer import HAZARD_COLUMNS, HAZARDS

    assert HAZARDS == ("flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood", "volcano")
    assert tuple(ALERT_HAZARDS) == HAZARDS and tuple(HAZARD_COLUMNS) == HAZARDS
    assert ALERT_HAZARDS["landslide"] == "土砂災害" and HAZARD_COLUMNS["landslide"] == "崖崩れ、土石流及び地滑り"
    assert service.hazards_of(0b1000_0101) == ["flood", "storm_surge", "volcano"]  # a stored value reads the same


def test_status_of_a_withdrawn_shelter_is_refused_until_it_is_listed_again(app, db, tmp_path):
    path, rows = _sample_without(tmp_path, lambda i: i != 0)
    gone = _sid(rows[0])
    service.set_status(db, gone, "open", by="op-a")
    service.import_file(db, path, by="op-b")

    with pytest.raises(service.WithdrawnShelter):
        service.set_status(db, gone, "closed", by="op-a")
    out = app.test_cli_runner().invoke(args=["shelters", "status", gone, "full", "--by", "op-a"])
    assert out.exit_code != 0 and "一覧から外れています" in out.output and "状態は変更していません" in out.output
    assert [h["status"] for h in service.status_history(db, gone)] == ["open"]
    assert service.get_shelter(db, gone)["withdrawn_at"] is not None

    service.import_file(db, SAMPLE, by="op-b")
    assert service.set_status(db, gone, "closed", by="op-a")["previous_status"] == "open"
    assert service.get_shelter(db, gone)["withdrawn_at"] is None


def test_gsi_csv_and_geojson_are_one_source_and_never_withdraw_the_standard_file(db, tmp_path):
    gsi = [gsi_row(f"G-{i}", f"避難広場{i}", 35.70 + i / 1000, 139.65, "洪水,地震") for i in range(3)]
    sample_ids = {s["source_id"] for s in service.list_shelters(db)}

    first = service.import_file(db, write(tmp_path / "gsi.csv", gsi_csv(gsi)), by="op")
    assert (first.added, first.withdrawn) == (3, 0)  # same municipality, other source: sample untouched

    second = service.import_file(db, write(tmp_path / "gsi.geojson", gsi_geojson(gsi[1:])), by="op")
    assert (second.format, second.withdrawn_ids) == ("GSI GeoJSON", ("G-0",))
    ids = {s["source_id"] for s in service.list_shelters(db)}
    assert ids == sample_ids | {"G-1", "G-2"}

    again = service.import_file(db, SAMPLE, by="op")
    assert (again.withdrawn, again.reinstated) == (0, 0)
    assert {s["source_id"] for s in service.list_shelters(db)} == ids


def test_console_offers_no_opening_announcement_for_a_withdrawn_shelter(app, db, tmp_path):
    from tests.conftest import ROLE_USERS, create_staff, logged_in

    create_staff(db, ROLE_USERS["operator"], "operator")
    path, rows = _sample_without(tmp_path, lambda i: i != 0)
    op = logged_in(app, "operator")
    assert op.get(f"/admin/alerts/new?shelter={_sid(rows[0])}").status_code == 200
    service.import_file(db, path, by="op")
    assert op.get(f"/admin/alerts/new?shelter={_sid(rows[0])}").status_code == 404
    assert op.get(f"/admin/alerts/new?shelter={_sid(rows[1])}").status_code == 200
