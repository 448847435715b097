"""End to end: gunicorn started from the Procfile and the LINE emulator as real processes."""

from __future__ import annotations

import time

import pytest
import requests

from devtools.stack import running_stack

pytestmark = pytest.mark.e2e
SECRET, TOKEN = "e2e-secret", "e2e-token"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite:///{tmp / 'e2e.db'}"
    with running_stack(tmp, SECRET, TOKEN, db_url, web_host="127.0.0.1", SECRET_KEY="e2e-key") as urls:
        yield {**urls, "tmp": tmp}
    for name in ("web.log", "answer.log"):
        log = (tmp / name).read_text()
        assert SECRET not in log and TOKEN not in log


def send(stack, user, event, **extra):
    r = requests.post(f"{stack['sim']}/_emulator/webhook", json={"userId": user, "event": event, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def inbox(stack, user, at_least=0, timeout=20.0):
    """The user's messages, waiting until there are at least `at_least` (answers are asynchronous)."""
    deadline = time.time() + timeout
    while True:
        r = requests.get(f"{stack['sim']}/_emulator/messages", params={"to": user}, timeout=10)
        msgs = r.json()["messages"]
        if len(msgs) >= at_least or time.time() > deadline:
            return msgs
        time.sleep(0.05)


def test_signed_webhook_round_trip_and_redelivery(stack):
    user = "U" + "e" * 32
    result = send(stack, user, {"type": "message", "message": {"type": "text", "text": "粗大ごみを出したいんだけど"}})
    assert result["status"] == 200
    msgs = inbox(stack, user, at_least=1)
    assert len(msgs) == 1 and msgs[0]["kind"] == "reply"
    assert "粗大ごみ" in msgs[0]["message"]["text"]
    # LINE redelivers the identical signed body: the resident must not get a second answer.
    again = requests.post(f"{stack['sim']}/_emulator/webhook", json={"body": result["body"]}, timeout=30).json()
    assert again["status"] == 200
    time.sleep(1.0)
    assert len(inbox(stack, user)) == 1


def test_forged_webhook_gets_400_from_gunicorn(stack):
    r = requests.post(
        f"{stack['web']}/callback", data=b'{"events":[]}', headers={"X-Line-Signature": "AAAA"}, timeout=10
    )
    assert r.status_code == 400


def test_many_residents_concurrently_each_get_one_answer(stack):
    from concurrent.futures import ThreadPoolExecutor

    users = [f"U{i:032d}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda u: send(
                    stack, u, {"type": "message", "message": {"type": "text", "text": "住民票をコンビニで取りたい"}}
                )["status"],
                users,
            )
        )
    assert statuses == [200] * len(users)
    for u in users:
        assert len(inbox(stack, u, at_least=1)) == 1
    time.sleep(0.5)
    for u in users[:5]:
        assert len(inbox(stack, u)) == 1
