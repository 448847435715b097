"""The asynchronous webhook: acknowledge at once, answer from the pool, recover after a crash."""

from __future__ import annotations

import json
import time

import pytest

from store import core as core_store
from tests.conftest import post_events, text_event

pytestmark = pytest.mark.both_engines

USER = "U" + "7" * 32


@pytest.fixture
def async_app(app_config):
    from webhook import create_app

    return create_app({**app_config, "WEBHOOK_ASYNC": True, "WEBHOOK_RECLAIM_SECONDS": 1})


def wait_for(fn, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    return fn()


def test_async_webhook_answers_once_and_erases_the_payload(async_app, emulator):
    client = async_app.test_client()
    event = text_event(USER, "粗大ごみを出したい", emulator.mint_token(USER))
    assert post_events(client, [event]).status_code == 200
    assert post_events(client, [event]).status_code == 200  # a redelivery while still queued
    msgs = wait_for(lambda: emulator.messages(to=USER))
    assert len(msgs) == 1 and "粗大ごみ" in msgs[0]["message"]["text"]
    db = async_app.extensions["madoguchi"].store.db
    row = wait_for(
        lambda: db.execute(
            "select state, payload from processed_events where event_id = ? and state = 'done'",
            [event["webhookEventId"]],
        ).fetchone()
    )
    assert row == ("done", None)
    time.sleep(0.3)
    assert len(emulator.messages(to=USER)) == 1


def test_event_left_queued_by_a_dead_process_is_answered_once_by_push(async_app, emulator):
    """A process acknowledged the event and died; its reply token has expired meanwhile."""
    rt = async_app.extensions["madoguchi"]
    event = text_event(USER, "粗大ごみを出したい", "expired-reply-token-0000000000")
    assert core_store.claim_event(rt.store.db, event["webhookEventId"], payload=json.dumps(event), now=time.time() - 60)
    with async_app.app_context():
        assert rt.processor.recover() == 1
        assert rt.processor.recover() == 0  # taken over once only
    msgs = emulator.messages(to=USER)
    assert [m["kind"] for m in msgs] == ["push"]
    assert "粗大ごみ" in msgs[0]["message"]["text"]
    state = rt.store.db.execute("select state, payload from processed_events").fetchone()
    assert state == ("done", None)


def test_recovered_push_is_not_repeated_when_recovery_runs_twice(async_app, emulator):
    """Crash after the push was accepted but before the event was closed: LINE's 409 stops a double."""
    rt = async_app.extensions["madoguchi"]
    event = text_event(USER, "住民票をコンビニで取りたい", "expired-reply-token-1111111111")
    db = rt.store.db
    core_store.claim_event(db, event["webhookEventId"], payload=json.dumps(event), now=time.time() - 60)
    with async_app.app_context():
        rt.processor.recover()
    # Pretend the process died before finish_event: queue it again as stale.
    db.execute(
        "update processed_events set state='queued', payload=?, claimed_at=? where event_id=?",
        [json.dumps(event), time.time() - 60, event["webhookEventId"]],
    )
    with async_app.app_context():
        assert rt.processor.recover() == 1
    assert len(emulator.messages(to=USER)) == 1


def test_events_too_old_to_help_are_abandoned_and_erased(app):
    db = app.extensions["madoguchi"].store.db
    core_store.claim_event(db, "OLD1", payload='{"type":"message"}', now=time.time() - 3600)
    assert core_store.reclaim_stale_events(db, 30) == []
    assert db.execute("select state, payload from processed_events where event_id='OLD1'").fetchone() == (
        "abandoned",
        None,
    )


def test_a_backlog_marks_the_pool_busy_and_every_event_is_still_answered(app_config, emulator):
    from faq import semantic
    from webhook import create_app

    app = create_app({**app_config, "WEBHOOK_ASYNC": True, "WEBHOOK_THREADS": 1})
    rt = app.extensions["madoguchi"]
    rt.faq.current()
    assert rt.faq.wait_semantic(120)
    client = app.test_client()
    users = [f"U{i:032d}" for i in range(4)]
    with semantic._engine_lock:  # the engine is busy: the first answer waits for it
        for user in users:
            event = text_event(user, "引っ越しの手続きで何が必要ですか", emulator.mint_token(user))
            assert post_events(client, [event]).status_code == 200  # acknowledged at once
        assert rt.processor.busy  # four waiting for one answer thread
    for user in users:
        assert wait_for(lambda u=user: emulator.messages(to=u))
    assert wait_for(lambda: not rt.processor.busy)
    assert all(len(emulator.messages(to=u)) == 1 for u in users)
