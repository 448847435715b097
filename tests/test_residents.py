"""Residents: registration by quick replies, settings, delivery stop, unfollow, disaster mode — signed webhooks."""

from __future__ import annotations

import pytest

from alerts import service
from bot.runtime import runtime
from common.i18n import LANGUAGES
from common.i18n import alerts as alert_catalog
from common.i18n import residents as resident_catalog
from store import residents as resident_store
from tests.conftest import make_event, post_events, send_alert, tap, text_event

pytestmark = pytest.mark.both_engines


def quick_data(message):
    return [i["action"].get("data") for i in message["quickReply"]["items"]]


def test_catalogs_complete():
    for catalog in (resident_catalog.MESSAGES, alert_catalog.MESSAGES):
        keys = set(catalog["ja"])
        for lang in LANGUAGES:
            assert set(catalog[lang]) == keys, lang


def test_registration_flow_settings_stop_and_unfollow(app, client, emulator):
    uid = "Ureg0001"
    emulator.add_user(uid, language="en")
    post_events(client, [make_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": False})])
    msg = emulator.replies(uid)[-1]
    assert "area" in msg["text"].lower()  # English from the profile
    data = quick_data(msg)
    assert len(data) <= 13 and any("area_page" in d for d in data)  # 18 areas: paged
    page2 = tap(client, emulator, [d for d in data if "area_page" in d][0], uid)[-1]
    assert any("wakaba" in d or "a=area" in d for d in quick_data(page2))
    msg = tap(client, emulator, "a=area&v=midori-2&m=r", uid)[-1]
    assert "language" in msg["text"].lower()
    msg = tap(client, emulator, "a=lang&v=vi&m=r", uid)[-1]
    assert "Hiện tại" in msg["text"]
    msg = tap(client, emulator, "a=topic&v=garbage&m=r", uid)[-1]
    msg = tap(client, emulator, "a=reg_done&m=r", uid)[-1]
    with app.app_context():
        db = runtime(app).store.db
        r = resident_store.get_resident(db, uid)
    assert (r.area, r.lang, r.lang_source, r.topics, r.reg_step) == (
        "midori-2",
        "vi",
        "choice",
        ("disaster", "garbage"),
        None,
    )

    # Follow again without unfollowing: nothing is asked again.
    post_events(client, [make_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": True})])
    msg = emulator.replies(uid)[-1]
    assert "quickReply" not in msg and "Chào mừng" in msg["text"]

    post_events(client, [text_event(uid, "設定", emulator.mint_token(uid))])
    msg = emulator.replies(uid)[-1]
    assert any("a=set" in d for d in quick_data(msg))
    tap(client, emulator, "a=set&v=area", uid)
    tap(client, emulator, "a=area&v=*&m=s", uid)
    post_events(client, [text_event(uid, "配信停止", emulator.mint_token(uid))])
    with app.app_context():
        r = resident_store.get_resident(db, uid)
        assert r.area is None and r.delivery_stopped is True
    assert "a=delivery&v=restart" in quick_data(emulator.replies(uid)[-1])
    tap(client, emulator, "a=delivery&v=restart", uid)
    with app.app_context():
        assert resident_store.get_resident(db, uid).delivery_stopped is False

    post_events(client, [make_event("unfollow", uid)])
    with app.app_context():
        assert resident_store.get_resident(db, uid) is None
        counts = resident_store.resident_counts(db)
        assert counts["total"] == 0 and counts["unfollows"] == 1
        assert db.execute("SELECT COUNT(*) FROM resident_topics WHERE user_id = ?", [uid]).fetchone()[0] == 0


def test_follow_without_profile_language(client, emulator):
    uid = "Unoprofile"  # unknown to the emulator: profile 404
    post_events(client, [make_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": False})])
    msg = emulator.replies(uid)[-1]
    assert "地域" in msg["text"]


def test_disaster_mode_puts_the_alert_first(app, client, emulator):
    with app.app_context():
        rt = runtime(app)
        db = rt.store.db
        resident_store.set_resident(db, "Uin", area="midori-1", lang="en", lang_source="choice", reg_step=None)
        resident_store.set_resident(db, "Uout", area="wakaba-1", lang="ja", reg_step=None)
        fields = {"areas": "みどり一丁目", "hazard": "洪水"}
        alert_id = send_alert(rt, template="evac_level4", fields=fields, areas=["midori-1"])
        active = service.active_alerts_for(db, "midori-1")
        assert active[0]["hazard"] == "flood"
    post_events(client, [text_event("Uin", "粗大ごみを出したい", emulator.mint_token("Uin"))])
    replies = [m["message"] for m in emulator.messages(to="Uin", kind="reply")]
    assert replies[0]["text"].startswith("⚠") and "Evacuation instruction" in replies[0]["text"]
    assert len(replies) >= 2  # the answer still comes
    # LINE shows quick replies under the last message only: 「近くの避難所」 leads them there.
    assert "quickReply" not in replies[0]
    last_items = replies[-1]["quickReply"]["items"]
    assert last_items[0]["action"]["type"] == "location"
    assert [i["action"]["label"] for i in last_items[1:]] == ["Solved", "Not solved"]
    post_events(client, [text_event("Uout", "粗大ごみを出したい", emulator.mint_token("Uout"))])
    assert not emulator.messages(to="Uout", kind="reply")[0]["message"]["text"].startswith("⚠")
    with app.app_context():
        service.cancel(db, alert_id, "tanaka", confirmed=True)
        assert service.active_alerts_for(db, "midori-1") == []
