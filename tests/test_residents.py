"""Residents: registration by quick replies, settings, delivery stop, unfollow, disaster mode — signed webhooks."""

from __future__ import annotations

import pytest

from alerts import service
from alerts.worker import run_worker
from bot.runtime import runtime
from common.i18n import LANGUAGES
from common.i18n import alerts as alert_catalog
from common.i18n import residents as resident_catalog
from store import residents as resident_store
from tests.conftest import make_event, post_events, postback_event, text_event

pytestmark = pytest.mark.both_engines


def _event(kind: str, user_id: str, token: str | None = None, **extra):
    return make_event(kind, user_id, token, **extra)


def last_reply(emulator, user_id):
    msgs = [m["message"] for m in emulator.messages(to=user_id, kind="reply")]
    return msgs[-1] if msgs else None


def quick_data(message):
    return [i["action"].get("data") for i in message["quickReply"]["items"]]


def send_postback(client, emulator, user_id, data):
    assert post_events(client, [postback_event(user_id, data, emulator.mint_token(user_id))]).status_code == 200
    return last_reply(emulator, user_id)


def test_catalogs_complete():
    for catalog in (resident_catalog.MESSAGES, alert_catalog.MESSAGES):
        keys = set(catalog["ja"])
        for lang in LANGUAGES:
            assert set(catalog[lang]) == keys, lang


def test_registration_flow_settings_stop_and_unfollow(app, client, emulator):
    uid = "Ureg0001"
    emulator.add_user(uid, language="en")
    post_events(client, [_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": False})])
    msg = last_reply(emulator, uid)
    assert "area" in msg["text"].lower()  # English from the profile
    data = quick_data(msg)
    assert len(data) <= 13 and any("area_page" in d for d in data)  # 18 areas: paged
    page2 = send_postback(client, emulator, uid, [d for d in data if "area_page" in d][0])
    assert any("wakaba" in d or "a=area" in d for d in quick_data(page2))
    msg = send_postback(client, emulator, uid, "a=area&v=midori-2&m=r")
    assert "language" in msg["text"].lower()
    msg = send_postback(client, emulator, uid, "a=lang&v=vi&m=r")
    assert "Hiện tại" in msg["text"]
    msg = send_postback(client, emulator, uid, "a=topic&v=garbage&m=r")
    msg = send_postback(client, emulator, uid, "a=reg_done&m=r")
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
    post_events(client, [_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": True})])
    msg = last_reply(emulator, uid)
    assert "quickReply" not in msg and "Chào mừng" in msg["text"]

    post_events(client, [text_event(uid, "設定", emulator.mint_token(uid))])
    msg = last_reply(emulator, uid)
    assert any("a=set" in d for d in quick_data(msg))
    send_postback(client, emulator, uid, "a=set&v=area")
    send_postback(client, emulator, uid, "a=area&v=*&m=s")
    post_events(client, [text_event(uid, "配信停止", emulator.mint_token(uid))])
    with app.app_context():
        r = resident_store.get_resident(db, uid)
        assert r.area is None and r.delivery_stopped is True
    assert "a=delivery&v=restart" in quick_data(last_reply(emulator, uid))
    send_postback(client, emulator, uid, "a=delivery&v=restart")
    with app.app_context():
        assert resident_store.get_resident(db, uid).delivery_stopped is False

    post_events(client, [_event("unfollow", uid)])
    with app.app_context():
        assert resident_store.get_resident(db, uid) is None
        counts = resident_store.resident_counts(db)
        assert counts["total"] == 0 and counts["unfollows"] == 1
        assert db.execute("SELECT COUNT(*) FROM resident_topics WHERE user_id = ?", [uid]).fetchone()[0] == 0


def test_follow_without_profile_language(client, emulator):
    uid = "Unoprofile"  # unknown to the emulator: profile 404
    post_events(client, [_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": False})])
    msg = last_reply(emulator, uid)
    assert "地域" in msg["text"]


def test_disaster_mode_puts_the_alert_first(app, client, emulator):
    with app.app_context():
        rt = runtime(app)
        db = rt.store.db
        resident_store.set_resident(db, "Uin", area="midori-1", lang="en", lang_source="choice", reg_step=None)
        resident_store.set_resident(db, "Uout", area="wakaba-1", lang="ja", reg_step=None)
        alert_id = service.create_alert(
            db,
            by="tanaka",
            template="evac_level4",
            fields={"areas": "みどり一丁目", "hazard": "洪水"},
            areas=["midori-1"],
        )
        service.approve(db, alert_id, "suzuki")
        service.start_delivery(db, alert_id, "suzuki")
        run_worker(rt.store, rt.line, once=True, rate_limit_rps=None)
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
