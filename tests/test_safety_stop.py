"""配信停止 and life-safety alerts: who still receives what, the two-step full stop, the intent.

Residents in every state (receiving, ordinary notices stopped, everything stopped after the
warning; in the alert's area, elsewhere, no area) against every kind of alert, delivered
through the real SDK to linesim; the 配信停止 dialogue through signed webhooks.
"""

from __future__ import annotations

import pytest

from alerts import service
from bot.runtime import runtime
from common.i18n import LANGUAGES
from common.i18n import residents as resident_catalog
from nlp.normalize import normalize
from store import residents as resident_store
from tests.conftest import deliver_alerts, say, send_alert, tap

# (user id, area, delivery_stopped, safety_stopped)
RESIDENTS = [
    ("Uon", "midori-1", False, False),
    ("Ustop", "midori-1", True, False),
    ("Uall", "midori-1", True, True),
    ("Unoarea_stop", None, True, False),
    ("Uwakaba_stop", "wakaba-1", True, False),
]


def _add_residents(rt):
    resident_store.bulk_add_residents(
        rt.store.db,
        [
            {"user_id": u, "area": area, "lang": "ja", "delivery_stopped": d, "safety_stopped": s}
            for u, area, d, s in RESIDENTS
        ],
    )


def _reached(emulator, alert_marker):
    return sorted({m["to"] for m in emulator.messages() if alert_marker in m["message"]["text"]})


MIDORI = {"areas": ["midori-1"]}
CASES = [
    # (template/free text kwargs, status, marker in the text, who receives)
    (
        dict(template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, **MIDORI),
        "actual",
        "【警戒レベル4】",
        ["Unoarea_stop", "Uon", "Ustop"],
    ),
    (
        dict(template="evac_level5", fields={"areas": "みどり一丁目", "hazard": "洪水"}, **MIDORI),
        "actual",
        "【警戒レベル5】",
        ["Unoarea_stop", "Uon", "Ustop"],
    ),
    (
        dict(
            template="shelter_open",
            fields={"shelter_name": "みどり小学校", "address": "みどり1-2-3", "areas": "みどり一丁目"},
            **MIDORI,
        ),
        "actual",
        "【避難所開設】",
        ["Unoarea_stop", "Uon", "Ustop"],  # not the stopped resident of another area
    ),
    (
        dict(template="earthquake", fields={"areas": "みどり区全域", "intensity": "4"}),
        "actual",
        "【地震】",
        ["Unoarea_stop", "Uon", "Ustop", "Uwakaba_stop"],
    ),
    # Ordinary notices: 配信停止 is respected.
    (
        dict(template="evac_level3", fields={"areas": "みどり一丁目", "hazard": "洪水"}, **MIDORI),
        "actual",
        "【警戒レベル3】",
        ["Uon"],
    ),
    (dict(headline="給水のお知らせ", body="みどり公園で給水します", **MIDORI), "actual", "給水", ["Uon"]),
    # A drill never overrides a stop, even of a level-4 order.
    (
        dict(template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, **MIDORI),
        "exercise",
        "【警戒レベル4】",
        ["Uon"],
    ),
]


@pytest.mark.parametrize("kw, status, marker, expected", CASES, ids=[c[2] + c[1] for c in CASES])
def test_life_safety_alerts_reach_residents_who_stopped_ordinary_notices(rt, emulator, kw, status, marker, expected):
    _add_residents(rt)
    alert_id = send_alert(rt, status=status, **kw)
    assert _reached(emulator, marker) == expected
    assert service.status(rt.store.db, alert_id)["total"] == len(expected)
    alert = service.get_alert(rt.store.db, alert_id)
    assert service.is_life_safety(alert) == ("Ustop" in expected)


def test_preview_counts_the_stopped_residents_it_still_reaches(rt):
    _add_residents(rt)
    alert_id = service.create_alert(
        rt.store.db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, **MIDORI
    )
    p = service.preview(rt.store.db, alert_id)
    assert p["recipient_count"] == 3
    assert any("「配信停止」中の人（2人）にも届きます" in n for n in p["notes"])


def test_cancel_of_a_life_safety_alert_reaches_the_stopped_residents_who_got_it(rt, emulator):
    _add_residents(rt)
    alert_id = send_alert(
        rt, template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, status="actual", **MIDORI
    )
    cancel_id = service.cancel(rt.store.db, alert_id, "tanaka", confirmed=True)
    deliver_alerts(rt, cancel_id)
    assert _reached(emulator, "【取消】") == ["Unoarea_stop", "Uon", "Ustop"]


def test_restart_clears_both_stops_and_safety_stop_needs_ordinary_stop(rt):
    db = rt.store.db
    resident_store.set_resident(db, "Ux", area="midori-1", delivery_stopped=True, safety_stopped=True)
    assert resident_store.get_resident(db, "Ux").safety_stopped is True
    resident_store.set_resident(db, "Ux", delivery_stopped=False)
    r = resident_store.get_resident(db, "Ux")
    assert (r.delivery_stopped, r.safety_stopped) == (False, False)
    # A half-set state (life-safety off, ordinary on) is never stored.
    resident_store.set_resident(db, "Ux", safety_stopped=True)
    assert resident_store.get_resident(db, "Ux").safety_stopped is False


# --- the dialogue -------------------------------------------------------------------------------


def _quick(message):
    return {i["action"]["label"]: i["action"].get("data") for i in message["quickReply"]["items"]}


def _state(app, uid):
    with app.app_context():
        r = resident_store.get_resident(runtime(app).store.db, uid)
        return r.delivery_stopped, r.safety_stopped


def test_stop_reply_says_what_still_arrives_and_full_stop_takes_a_warned_second_step(app, client, emulator):
    uid = "Udialog1"
    with app.app_context():
        resident_store.set_resident(runtime(app).store.db, uid, area="midori-1", reg_step=None)
    msg = say(client, emulator, "配信停止", uid)[-1]
    assert _state(app, uid) == (True, False)
    for what in ("警戒レベル4以上", "避難指示", "緊急安全確保", "避難所の開設", "地震"):
        assert what in msg["text"], what
    quick = _quick(msg)
    assert quick["配信再開"] == "a=delivery&v=restart" and quick["緊急情報も止める"] == "a=delivery&v=safety_warn"

    # First tap: only a warning; nothing changes.
    warn = tap(client, emulator, "a=delivery&v=safety_warn", uid)[-1]
    assert "⚠" in warn["text"] and "命に関わる" in warn["text"]
    assert _state(app, uid) == (True, False)
    kept = tap(client, emulator, "a=delivery&v=safety_keep", uid)[-1]
    assert "これまでどおり届きます" in kept["text"] and _state(app, uid) == (True, False)

    # The explicit second step stops life-safety alerts too; the reply says they will not come.
    tap(client, emulator, "a=delivery&v=safety_warn", uid)
    done = tap(client, emulator, "a=delivery&v=safety_stop", uid)[-1]
    assert _state(app, uid) == (True, True) and "届きません" in done["text"]
    again = say(client, emulator, "配信停止", uid)[-1]  # does not pretend alerts still come
    assert "届きません" in again["text"] and _state(app, uid) == (True, True)
    settings = say(client, emulator, "設定", uid)[-1]
    assert "すべて停止中" in settings["text"]
    say(client, emulator, "配信再開", uid)
    assert _state(app, uid) == (False, False)


@pytest.mark.parametrize(
    "text", ["配信を止めたい", "通知いらない", "お知らせはもういらない", "通知オフにしたい", "LINEの通知を止めたい"]
)
def test_stop_phrasings_are_the_same_command(app, client, emulator, text):
    uid = "Uphrase1"
    with app.app_context():
        resident_store.set_resident(runtime(app).store.db, uid, area="midori-1", reg_step=None)
    msg = say(client, emulator, text, uid)[-1]
    assert _state(app, uid) == (True, False)
    assert msg["text"] == resident_catalog.MESSAGES["ja"]["delivery_stopped_msg"]


@pytest.mark.parametrize(
    "text", ["通知カードをなくした", "マイナンバーの通知カード", "通知カードはいらない？", "通知書が届かない"]
)
def test_questions_about_notification_cards_are_not_a_stop(app, client, emulator, text):
    uid = "Ucard0001"
    with app.app_context():
        resident_store.set_resident(runtime(app).store.db, uid, area="midori-1", reg_step=None)
    msg = say(client, emulator, text, uid)[-1]
    assert _state(app, uid) == (False, False)
    assert "配信を止めました" not in msg["text"]


def test_intent_matcher_phrasings():
    from bot.handlers.residents import is_stop_request

    yes = ["配信を止めたい", "通知いらない", "お知らせを止めてください", "配信停止したい", "もう送らないで"]
    yes += ["通知を全部止めたい", "区からのお知らせはいらない", "unsubscribe", "Stop notifications please"]
    no = ["通知カードいらない", "納税通知書を止めたい", "通知が来ない", "配信はいつですか", "通知はがきが届かない"]
    no += ["お知らせの配信日はいつ", "ごみの通知を止めたい", "避難指示を止めるには" + "あ" * 40]
    assert [x for x in yes if not is_stop_request(normalize(x))] == []
    assert [x for x in no if is_stop_request(normalize(x))] == []


def test_registration_promise_is_what_the_rule_does():
    for lang in LANGUAGES:
        text = resident_catalog.MESSAGES[lang]["reg_topics_ask"]
        assert "配信停止" in text, lang  # names the command after which life-safety alerts still come
    assert "必ず届きます" not in resident_catalog.MESSAGES["ja"]["reg_topics_ask"]
