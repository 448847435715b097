"""The inbox and the answer workers: the web tier only queues; workers claim, answer and close.

Real SQLite file, real line-bot-sdk against the emulator; workers driven in-process here,
as real processes in test_answer_backlog.py.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from bot.answer_worker import AnswerWorker, user_key
from bot.events import retry_key_for
from bot.runtime import runtime
from common.i18n import t
from store import core as core_store
from store import residents as resident_store
from tests.conftest import db_of, make_event, post_events, postback_event, text_event

pytestmark = pytest.mark.both_engines

USER = "U" + "7" * 32


@pytest.fixture
def async_app(app_config):
    from webhook import create_app

    return create_app({**app_config, "WEBHOOK_ASYNC": True, "ANSWER_LEASE_SECONDS": 1.0})


def queue(app, event, age: float = 0.0):
    """Record `event` as the webhook would, `age` seconds ago."""
    key = user_key(event["source"]["userId"], app.config["SECRET_KEY"])
    core_store.record_events(db_of(app), [(event["webhookEventId"], json.dumps(event), key)], now=time.time() - age)
    return event["webhookEventId"]


def state(app, event_id):
    return (
        db_of(app)
        .execute("select state, payload, owner from processed_events where event_id = ?", [event_id])
        .fetchone()
    )


def drain(app, owner="test-owner"):
    """Claim and answer everything queued, in this thread."""
    worker = AnswerWorker(app, threads=1, owner=owner)
    db = db_of(app)
    core_store.register_worker(db, worker.owner)
    with app.app_context():
        while claimed := core_store.claim_events(db, worker.owner, 10):
            for ev in claimed:
                worker.answer(ev)
    return worker


def wait_for(fn, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    return fn()


# --- the web tier -------------------------------------------------------------------------------


def test_webhook_only_queues_and_drops_redeliveries(async_app, emulator):
    client = async_app.test_client()
    event = text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER))
    assert post_events(client, [event]).status_code == 200
    assert post_events(client, [event]).status_code == 200  # LINE redelivers while still queued
    assert emulator.messages(to=USER) == []  # nothing answered by the web process
    row = state(async_app, event["webhookEventId"])
    assert row[0] == "queued" and USER in row[1]
    assert db_of(async_app).execute("select count(*) from processed_events").fetchone()[0] == 1
    drain(async_app)
    msgs = emulator.messages(to=USER)
    assert [m["kind"] for m in msgs] == ["reply"] and "粗大ごみ" in msgs[0]["message"]["text"]
    assert state(async_app, event["webhookEventId"]) == ("done", None, None)  # payload erased


def test_events_of_one_webhook_keep_their_order(async_app, emulator):
    client = async_app.test_client()
    evs = [text_event(USER, f"質問{i}", emulator.mint_token(USER)) for i in range(3)]
    post_events(client, evs)
    claimed = core_store.claim_events(db_of(async_app), "w1", 10)
    assert [c.event_id for c in claimed] == [e["webhookEventId"] for e in evs]


# --- claims, leases and takeover ----------------------------------------------------------------


def test_a_claim_is_exclusive_and_a_resident_waits_for_their_event_in_progress(async_app, emulator):
    db = db_of(async_app)
    first = queue(async_app, text_event(USER, "a", "tok-a"), age=2)
    second = queue(async_app, text_event(USER, "b", "tok-b"), age=1)
    other = queue(async_app, text_event("U" + "8" * 32, "c", "tok-c"))
    a = core_store.claim_events(db, "A", 1)
    assert [e.event_id for e in a] == [first]
    b = core_store.claim_events(db, "B", 10)
    # B never gets A's event, nor the same resident's next one while A works on the first.
    assert [e.event_id for e in b] == [other]
    assert core_store.finish_event(db, first, "A")
    assert [e.event_id for e in core_store.claim_events(db, "B", 10)] == [second]


def test_only_a_dead_owners_events_are_taken_over_and_its_late_finish_is_refused(async_app):
    db = db_of(async_app)
    now = time.time()
    slow = queue(async_app, text_event(USER, "a", "tok-a"))
    dead = queue(async_app, text_event("U" + "8" * 32, "b", "tok-b"))
    core_store.register_worker(db, "live", now=now - 100)
    core_store.register_worker(db, "dead", now=now - 100)
    assert core_store.claim_events_by_id(db, "live", [slow], now=now - 100)
    assert core_store.claim_events_by_id(db, "dead", [dead], now=now - 100)
    # The live one has been working for 100 s but keeps beating: its event stays with it.
    assert core_store.heartbeat(db, "live", now=now)
    assert core_store.release_dead_owners(db, lease_seconds=10, now=now) == 1
    assert state(async_app, slow)[0] == "working"
    assert state(async_app, dead)[:1] == ("queued",)
    assert not core_store.heartbeat(db, "dead", now=now)  # it learns it was presumed dead
    taken = core_store.claim_events(db, "new", 10, now=now)
    assert [e.event_id for e in taken] == [dead] and taken[0].attempts == 2
    assert not core_store.finish_event(db, dead, "dead")  # the old owner cannot close it
    assert not core_store.mark_sending(db, dead, "dead", "reply")  # nor send for it
    assert core_store.finish_event(db, dead, "new")


def test_a_worker_that_stops_puts_back_what_it_holds(async_app):
    db = db_of(async_app)
    ev = queue(async_app, text_event(USER, "a", "tok"))
    core_store.register_worker(db, "w")
    core_store.claim_events(db, "w", 10)
    assert core_store.deregister_worker(db, "w") == 1
    assert state(async_app, ev)[0] == "queued"


# --- late, taken over, expired ------------------------------------------------------------------


def test_late_answer_is_pushed_with_a_note_and_the_event_retry_key(async_app, emulator):
    event_id = queue(async_app, text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER)), age=120)
    drain(async_app)
    msgs = emulator.messages(to=USER)
    assert {m["kind"] for m in msgs} == {"push"}
    assert msgs[0]["message"]["text"] == t("late_note", "ja")
    assert any("粗大ごみ" in m["message"]["text"] for m in msgs[1:])
    assert {m["retryKey"] for m in msgs} == {retry_key_for(event_id)}


def test_an_answer_after_20_seconds_still_replies_but_says_it_is_late(async_app, emulator):
    queue(async_app, text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER)), age=30)
    drain(async_app)
    msgs = emulator.messages(to=USER)
    assert {m["kind"] for m in msgs} == {"reply"}
    assert msgs[0]["message"]["text"] == t("late_note", "ja")


def test_takeover_after_a_push_was_sent_does_not_push_again(async_app, emulator):
    """The owner pushed, then died before closing the event: the next owner's push gets 409."""
    db = db_of(async_app)
    event_id = queue(async_app, text_event(USER, "住民票をコンビニで取りたい", "expired-token"), age=120)
    drain(async_app, owner="first")
    db.execute(
        "update processed_events set state='working', owner='gone', payload=?, send_via='push' where event_id=?",
        [json.dumps(text_event(USER, "住民票をコンビニで取りたい", "expired-token", event_id=event_id)), event_id],
    )
    assert core_store.release_dead_owners(db, 1) == 1
    drain(async_app, owner="second")
    assert len({m["requestId"] for m in emulator.messages(to=USER)}) == 1


def test_takeover_after_a_reply_was_sent_does_not_push(async_app, emulator):
    """The owner replied (token used), then died: the next owner repeats the reply, gets 400, stops."""
    db = db_of(async_app)
    token = emulator.mint_token(USER)
    event = text_event(USER, "粗大ごみを出したい", token)
    event_id = queue(async_app, event, age=25)
    drain(async_app, owner="first")
    db.execute(
        "update processed_events set state='working', owner='gone', payload=?, send_via='reply' where event_id=?",
        [json.dumps(event), event_id],
    )
    core_store.release_dead_owners(db, 1)
    drain(async_app, owner="second")
    assert len({m["requestId"] for m in emulator.messages(to=USER)}) == 1
    assert state(async_app, event_id)[0] == "done"


def test_a_question_too_old_gets_an_apology_is_counted_and_closed(async_app, emulator, caplog):
    event_id = queue(async_app, text_event(USER, "粗大ごみを出したい", "old-token"), age=7200)
    follow_id = queue(async_app, make_event("unfollow", "U" + "9" * 32), age=7200)
    worker = drain(async_app)
    msgs = emulator.messages(to=USER)
    assert [m["message"]["text"] for m in msgs] == [t("expired_apology", "ja")]
    assert msgs[0]["kind"] == "push" and msgs[0]["retryKey"] == retry_key_for(event_id)
    assert state(async_app, event_id) == ("expired", None, None)
    assert worker.counts["expired"] == 1
    assert "expired unanswered after" in caplog.text
    # An unfollow never expires: personal data is deleted however late.
    assert state(async_app, follow_id)[0] == "done"


def test_an_event_that_crashed_its_process_five_times_is_given_up(async_app, emulator):
    db = db_of(async_app)
    event_id = queue(async_app, text_event(USER, "粗大ごみ", "tok"))
    db.execute("update processed_events set attempts = 5 where event_id = ?", [event_id])
    drain(async_app)
    assert state(async_app, event_id)[0] == "failed"
    assert [m["message"]["text"] for m in emulator.messages(to=USER)] == [t("expired_apology", "ja")]


# --- events the SDK cannot read -----------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "type": "hologram"},
        {"id": "1", "type": "text", "text": None, "quoteToken": "q"},
        {"type": "text"},
    ],
)
def test_an_unparseable_message_gets_the_unsupported_reply_once_and_is_closed(async_app, emulator, message):
    client = async_app.test_client()
    event = text_event(USER, "x", emulator.mint_token(USER))
    event["message"] = message
    assert post_events(client, [event]).status_code == 200
    drain(async_app)
    drain(async_app)  # nothing left to retry
    assert [m["message"]["text"] for m in emulator.messages(to=USER)] == [t("unsupported", "ja")]
    assert state(async_app, event["webhookEventId"])[0] == "done"


def test_a_lone_surrogate_escape_is_200_and_answered(async_app, emulator):
    from tests.conftest import sign

    client = async_app.test_client()
    event = text_event(USER, "粗大ごみSURR", emulator.mint_token(USER))
    body = json.dumps({"destination": "U", "events": [event]}, ensure_ascii=True).replace("SURR", "\\ud800").encode()
    resp = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert resp.status_code == 200
    drain(async_app)
    assert len(emulator.messages(to=USER)) == 1
    assert "粗大ごみ" in db_of(async_app).execute("select query from query_log").fetchone()[0]


# --- unfollow -----------------------------------------------------------------------------------


def test_late_events_after_an_unfollow_do_not_bring_the_resident_back(app, client, emulator):
    uid = "U" + "a" * 32
    post_events(client, [make_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": False})])
    db = db_of(app)
    assert resident_store.get_resident(db, uid) is not None
    follows = resident_store.resident_counts(db)["follows"]
    post_events(client, [make_event("unfollow", uid)])
    assert resident_store.get_resident(db, uid) is None
    late = postback_event(uid, "a=area&v=*&m=r", emulator.mint_token(uid))
    late["deliveryContext"]["isRedelivery"] = True
    post_events(client, [late])
    post_events(client, [text_event(uid, "設定", emulator.mint_token(uid))])
    assert resident_store.get_resident(db, uid) is None
    assert resident_store.resident_counts(db)["follows"] == follows
    # The mark is a keyed hash, never the LINE id.
    for row in db.query("select * from departed_users"):
        assert uid not in json.dumps(row)
    # Following again is the one way back.
    post_events(client, [make_event("follow", uid, emulator.mint_token(uid), follow={"isUnblocked": True})])
    assert resident_store.get_resident(db, uid) is not None
    post_events(client, [text_event(uid, "設定", emulator.mint_token(uid))])
    assert resident_store.get_resident(db, uid) is not None


def test_unfollow_clears_the_profile_language_cache(app, client, emulator):
    uid = "U" + "b" * 32
    emulator.add_user(uid, language="en")
    post_events(client, [text_event(uid, "hello there how are you", emulator.mint_token(uid))])
    cache = runtime(app).answers._languages
    assert uid in cache._data
    post_events(client, [make_event("unfollow", uid)])
    assert uid not in cache._data


# --- a worker loop in a thread ------------------------------------------------------------------


def test_a_running_worker_picks_up_new_events_at_once_and_reports_itself(async_app, emulator):
    worker = AnswerWorker(async_app, threads=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    client = async_app.test_client()
    try:
        health = wait_for(lambda: (h := client.get("/healthz").get_json())["answer_workers"] == 1 and h)
        assert health["semantic"] in ("ready", "embedding", "off", "lexical_only", "not_loaded")
        wait_for(lambda: worker.rt.faq.serving_version() is not None)
        event = text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER))
        sent = time.time()
        post_events(client, [event])
        msgs = wait_for(lambda: emulator.messages(to=USER), timeout=10)
        assert len(msgs) == 1
        # Picked up well within a second (polling every ANSWER_POLL_SECONDS, 50 ms).
        assert msgs[0]["time"] / 1000 - sent < 1.5
        inbox = wait_for(lambda: (i := client.get("/healthz").get_json()["inbox"])["in_progress"] == 0 and i)
        assert inbox["queued"] == 0 and inbox["since_start"] == {}
    finally:
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert client.get("/healthz").get_json()["answer_workers"] == 0  # deregistered on stop


def test_healthz_shows_the_backlog(async_app, emulator):
    client = async_app.test_client()
    for i in range(3):
        queue(async_app, text_event(f"U{i:032d}", "a", f"tok{i}"), age=5)
    inbox = client.get("/healthz").get_json()["inbox"]
    assert inbox["queued"] == 3 and inbox["oldest_seconds"] >= 5
    assert client.get("/healthz").get_json()["semantic"] == "no_workers"
