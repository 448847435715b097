"""An evacuation alert comes with 「近くの避難所」 and the open shelters of each resident's area,
batched per area and language — exactly once per resident even when LINE fails after accepting."""

from __future__ import annotations

import json

import pytest

from alerts import service
from shelters import service as shelters
from store import residents as resident_store
from tests.conftest import deliver_alerts, send_alert

SCHOOL_1 = "E131999000101"  # みどり区立みどり小学校, みどり一丁目
SCHOOL_2 = "E131999000201"  # みどり区立みどり中学校, みどり二丁目


@pytest.fixture
def rt(app, rt):
    shelters.ensure_seeded(rt.store, app.config["SHELTERS_CSV"])
    return rt


def _residents(rt):
    resident_store.bulk_add_residents(
        rt.store.db,
        [
            {"user_id": "Um1", "lang": "ja", "area": "midori-1"},
            {"user_id": "Um1b", "lang": "ja", "area": "midori-1"},
            {"user_id": "Um2", "lang": "en", "area": "midori-2"},
            {"user_id": "Unone", "lang": "ja", "area": None},
            {"user_id": "Ustop", "lang": "ja", "area": "midori-2", "delivery_stopped": True},
        ],
    )


def _received(emulator, uid):
    return [m["message"] for m in emulator.messages() if m["to"] == uid]


ORDER = dict(
    template="evac_level4", fields={"areas": "みどり一・二丁目", "hazard": "洪水"}, areas=["midori-1", "midori-2"]
)


def test_evacuation_alert_comes_with_the_open_shelters_of_the_residents_area(rt, emulator):
    db = rt.store.db
    _residents(rt)
    shelters.set_status(db, SCHOOL_1, "open", by="sato")
    shelters.set_status(db, SCHOOL_2, "crowded", count=300, by="sato")
    alert_id = send_alert(rt, **ORDER)

    m1 = _received(emulator, "Um1")
    assert len(m1) == 2 and m1[0]["text"].startswith("【警戒レベル4】")
    assert "みどり一丁目で開設している避難所" in m1[1]["text"] and "みどり区立みどり小学校【開設】" in m1[1]["text"]
    assert "みどり中学校" not in m1[1]["text"]  # another area's shelter
    assert "quickReply" not in m1[0]  # LINE shows quick replies under the last message only
    (item,) = m1[1]["quickReply"]["items"]
    assert item["action"] == {"type": "location", "label": "近くの避難所"}

    m2 = _received(emulator, "Um2")  # English, its own area
    assert "Evacuation instruction" in m2[0]["text"]
    assert "Evacuation shelters open for Midori 2-chome" in m2[1]["text"] and "みどり中学校【Crowded】" in m2[1]["text"]
    assert (
        "みどり区立みどり中学校【" in m2[1]["text"] and m2[1]["quickReply"]["items"][0]["action"]["type"] == "location"
    )
    # No area chosen: the open shelters of every area the alert covers.
    none = _received(emulator, "Unone")[1]["text"]
    assert "みどり小学校" in none and "みどり中学校" in none
    # 配信停止 but life-safety: gets the alert and the guide of their area too.
    assert "みどり中学校" in _received(emulator, "Ustop")[1]["text"]

    # One batch per (language, area); each with its own retry key and its fixed messages.
    batches = db.execute(
        "SELECT text_lang, retry_key, n, messages_json FROM alert_batches WHERE alert_id = ?", [alert_id]
    )
    batches = list(batches)
    assert sorted((b[0], b[2]) for b in batches) == [("en", 1), ("ja", 1), ("ja", 1), ("ja", 2)]
    assert len({b[1] for b in batches}) == 4
    assert all(len(json.loads(b[3])) == 2 for b in batches)
    st = service.status(db, alert_id)
    assert (st["total"], st["sent"], st["failed"]) == (5, 5, 0)
    assert any("近くの避難所" in n for n in service.preview(db, alert_id)["notes"])


def test_no_open_shelter_still_brings_the_location_button(rt, emulator):
    _residents(rt)
    send_alert(rt, **ORDER)
    (only,) = _received(emulator, "Um1")
    assert only["text"].startswith("【警戒レベル4】") and only["quickReply"]["items"][0]["action"]["type"] == "location"


def test_drill_gets_the_button_but_no_real_shelter_list(rt, emulator):
    _residents(rt)
    shelters.set_status(rt.store.db, SCHOOL_1, "open", by="sato")
    send_alert(rt, status="exercise", **ORDER)
    (only,) = _received(emulator, "Um1")
    assert only["text"].startswith("【訓練】") and "quickReply" in only


def test_ordinary_notice_has_no_guide(rt, emulator):
    _residents(rt)
    send_alert(rt, headline="給水のお知らせ", body="みどり公園で給水します")
    (only,) = _received(emulator, "Um1")
    assert "quickReply" not in only


def test_per_area_batches_are_exactly_once_when_line_fails_after_accepting(rt, emulator):
    db = rt.store.db
    resident_store.bulk_add_residents(
        db,
        [{"user_id": f"Ux{i:03d}", "lang": "ja", "area": ("midori-1", "midori-2")[i % 2]} for i in range(60)],
    )
    shelters.set_status(db, SCHOOL_1, "open", by="sato")
    shelters.set_status(db, SCHOOL_2, "open", by="sato")
    alert_id = service.create_alert(db, by="tanaka", **ORDER)
    service.approve(db, alert_id, "suzuki")
    service.start_delivery(db, alert_id, "suzuki", batch_size=7)
    # Half the attempts are accepted by LINE and then answered 500: the retry (same key) gets 409.
    emulator.faults(rate_500_after_accept=0.5, seed=11, endpoints=["multicast"])
    deliver_alerts(rt, alert_id)
    emulator.faults()
    per_user: dict[str, list[str]] = {}
    for m in emulator.messages():
        per_user.setdefault(m["to"], []).append(m["message"]["text"])
    assert len(per_user) == 60
    for uid, texts in per_user.items():
        assert len(texts) == 2, uid  # the alert and the guide, once
        school = "みどり小学校" if int(uid[2:]) % 2 == 0 else "みどり中学校"
        assert school in texts[1], uid
    st = service.status(db, alert_id)
    assert (st["sent"], st["failed"], st["pending"]) == (60, 0, 0) and st["attempts"] > st["batches"]
