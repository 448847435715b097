"""store/ hands out typed, frozen records: fields of the right type, and no key added on the way."""

from __future__ import annotations

import dataclasses

import pytest

from alerts import service as alerts
from opinions import service as opinions
from shelters import service
from store import alerts as alert_store
from store import opinions as opinion_store
from store import reports as report_store
from store import residents as resident_store
from store import shelters as shelter_store
from store import surveys as survey_store
from store.vocab import OpinionStatus, QuestionKind, ReportStatus, ShelterStatus, SurveyState, Topic
from surveys import service as surveys
from tests.test_shelters_fixtures import SAMPLE

pytestmark = pytest.mark.both_engines


def test_a_shelter_is_typed_and_frozen(db):
    service.import_file(db, SAMPLE, by="test")
    first = shelter_store.all_shelters(db)[0]
    service.set_status(db, first.source_id, "満員", count=40, by="op")
    shelter = shelter_store.get_shelter(db, first.source_id)
    assert shelter is not None
    assert shelter.status is ShelterStatus.FULL and shelter.head_count == 40 and shelter.status_by == "op"
    assert isinstance(shelter.areas, tuple) and isinstance(shelter.is_shelter, bool)
    assert shelter.withdrawn_at is None and isinstance(shelter.lat, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shelter.status = ShelterStatus.OPEN  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        shelter.distance_m = 10  # type: ignore[attr-defined]
    (change,) = shelter_store.status_log(db, first.source_id)
    assert (change.status, change.previous_status, change.head_count) == (ShelterStatus.FULL, ShelterStatus.CLOSED, 40)
    # The public dict is built beside the record, never on it.
    assert service.get_shelter(db, first.source_id)["areas"] == list(shelter.areas)


def test_a_resident_is_typed_and_frozen(db):
    resident_store.set_resident(db, "Urec", area="midori-1", lang="en", topics=["garbage"], delivery_stopped=True)
    resident = resident_store.get_resident(db, "Urec")
    assert resident is not None
    assert resident.topics == (Topic.DISASTER, Topic.GARBAGE)  # 防災 always kept, first
    assert (resident.area, resident.lang, resident.delivery_stopped, resident.safety_stopped) == (
        "midori-1",
        "en",
        True,
        False,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        resident.area = "midori-2"  # type: ignore[misc]
    assert resident_store.get_resident(db, "Unobody") is None


def test_an_alert_view_is_built_beside_the_stored_row(db):
    alert_id = alerts.create_alert(
        db, by="tanaka", headline="給水のお知らせ", body="みどり小学校で給水", status="exercise"
    )
    row = alert_store.get_alert(db, alert_id)
    assert row is not None and set(row) == set(alert_store.AlertRow.__annotations__)
    assert row["test_audience"] is False and row["areas"] == []
    shown = alerts.get_alert(db, alert_id)
    assert (shown["state_label"], shown["status_label"], shown["title"]) == (
        "下書き（承認待ち）",
        "訓練",
        "給水のお知らせ",
    )
    assert set(shown["texts"]) >= {"ja"}
    # The labels live on the view only: the stored row keeps exactly its columns.
    again = alert_store.get_alert(db, alert_id)
    assert again == row and "state_label" not in again
    assert {k: shown[k] for k in row} == row


def test_a_report_is_typed_and_photos_come_only_when_asked_for(db):
    report_store.insert_reports(
        db,
        [
            {
                "kind": "road",
                "kind_name": "道路の損傷",
                "description": "穴があります",
                "lat": 35.7,
                "lon": 139.7,
                "created_at": 1_790_000_000.0,
                "photos": [{"full": "a" * 32 + ".jpg", "thumb": "b" * 32 + ".jpg", "width": 800, "height": 600}],
            }
        ],
    )
    (listed,) = report_store.list_reports(db, with_photos=False)
    assert "photos" not in listed and listed["outside"] is False and listed["description_public"] is False
    assert listed["status"] is ReportStatus.RECEIVED
    report = report_store.get_report(db, listed["id"])
    assert report is not None and set(report) == set(report_store.Report.__annotations__)
    (photo,) = report["photos"]
    assert (photo["name"], photo["width"], photo["position"]) == ("a" * 32 + ".jpg", 800, 0)
    assert report_store.photo_by_name(db, "b" * 32 + ".jpg") == photo


def test_an_opinion_view_is_built_beside_the_stored_record(db):
    opinion_id = opinion_store.insert_opinion(
        db, {"user_id": "Uop", "author": "p-1", "topic": "parks", "body": "ベンチがほしい", "wants_reply": True}
    )
    stored = opinion_store.get_opinion(db, opinion_id)
    assert stored is not None and stored["status"] is OpinionStatus.RECEIVED
    assert (stored["wants_reply"], stored["anonymised"], stored["reachable"]) == (True, False, True)
    shown = opinions.get(db, opinion_id)
    assert (shown["number"], shown["status_label"]) == (f"O-{opinion_id:06d}", "受付")
    assert opinion_store.get_opinion(db, opinion_id) == stored and "number" not in stored


def test_a_survey_view_is_built_beside_the_stored_survey(db):
    question = surveys.make_question(QuestionKind.SINGLE, "満足しましたか", ["はい", "いいえ"])
    survey_id = surveys.create(db, "区民まつり", [question], "tanaka", [], [], [], None)
    stored = survey_store.get_survey(db, survey_id)
    assert stored is not None and set(stored) == set(survey_store.Survey.__annotations__)
    assert stored["state"] is SurveyState.DRAFT and isinstance(stored["questions"][0], dict)
    shown = surveys.get(db, survey_id)
    assert shown["state_label"] == "下書き（承認待ち）" and shown["questions"][0].kind == QuestionKind.SINGLE
    assert survey_store.get_survey(db, survey_id) == stored and "state_label" not in stored
