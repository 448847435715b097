"""Oversized bodies are refused with 413 before they are read; upload routes keep their own limit."""

from __future__ import annotations

import io
import json

from flask import Flask, request
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from bot.bodylimit import body_limit, install
from bot.runtime import runtime
from tests.conftest import create_staff, post_events, text_event

USER = "U" + "5" * 32
MiB = 1024 * 1024


class CountingStream(io.RawIOBase):
    """An endless body that counts what the app read from it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buf):
        n = len(buf)
        buf[:n] = b"a" * n
        self.read_bytes += n
        return n


def test_a_body_over_the_limit_is_413_without_being_read(client, emulator):
    stream = CountingStream()
    resp = client.post(
        "/callback",
        headers={"X-Line-Signature": "x"},
        environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(500 * MiB)},
    )
    assert resp.status_code == 413
    assert stream.read_bytes == 0
    assert emulator.messages() == []


def test_a_chunked_body_is_read_only_up_to_the_limit(client):
    stream = CountingStream()
    resp = client.post(
        "/callback",
        headers={"X-Line-Signature": "x"},
        # No length, the server terminates the stream: what gunicorn does for a chunked body.
        environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert resp.status_code == 413
    assert MiB <= stream.read_bytes <= MiB + 64 * 1024  # up to the limit, never more


def test_a_big_but_legal_webhook_is_still_accepted(client, emulator):
    events = [text_event(USER, "粗大ごみ" * 1200, emulator.mint_token(USER)) for _ in range(50)]
    body = json.dumps({"destination": "U", "events": events}, ensure_ascii=False).encode()
    assert 0.5 * MiB < len(body) < MiB
    assert post_events(client, events).status_code == 200


def test_every_route_has_the_limit(client):
    big = b"a" * (MiB + 1)
    for path in ("/admin/login", "/healthz", "/callback", "/shelters.json"):
        assert client.post(path, data=big, headers={"X-Line-Signature": "x"}).status_code in (405, 413), path
    assert client.post("/admin/login", data=big).status_code == 413


def upload(client, csrf: str, data: bytes):
    # Encoded here, in memory: the test client spools big multipart bodies to a file it never closes.
    boundary, body = encode_multipart({"csrf_token": csrf, "file": FileStorage(io.BytesIO(data), "big.csv")})
    return client.post("/admin/faq/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_an_upload_route_declares_its_own_larger_limit(app, client):
    db = runtime(app).store.db
    create_staff(db, "staff9", "staff")
    page = client.get("/admin/login").text
    tok = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/admin/login", data={"name": "staff9", "password": "kuyakusho-Midori-2026", "csrf_token": tok})
    assert r.status_code == 302
    tok = client.get("/admin/faq").text.split('name="csrf_token" value="')[1].split('"')[0]
    rows = "".join(f"q-{i},質問{i}ですか,答え{i}です。{'あ' * 200}\r\n" for i in range(2500))
    csv = ("id,question,answer\r\n" + rows).encode()
    assert 1.2 * MiB < len(csv) < 5 * MiB
    r = upload(client, tok, csv)
    assert r.status_code != 413
    assert r.status_code in (302, 422)
    too_big = b"id,question,answer\r\n" + b"x" * (6 * MiB)
    assert upload(client, tok, too_big).status_code == 413


def test_body_limit_reads_a_config_key():
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=2, SMALL_UPLOAD=3)
    install(app)

    @app.post("/small")
    @body_limit("SMALL_UPLOAD")
    def small():
        return request.get_data()

    @app.post("/default")
    def default():
        return request.get_data()

    c = app.test_client()
    assert c.post("/small", data=b"abc").status_code == 200
    assert c.post("/small", data=b"abcd").status_code == 413
    assert c.post("/default", data=b"ab").status_code == 200
    assert c.post("/default", data=b"abc").status_code == 413
