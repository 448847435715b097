"""The content API (`GET /v2/bot/message/{id}/content` on the data host) in linesim, through the real SDK."""

from __future__ import annotations

import pytest

from common.line_api import DEFAULT_DATA_BASE_URL, LineApi, LineApiError, data_base_url
from tests.conftest import TOKEN
from tests.reports_helpers import put_content


def test_registered_bytes_come_back_through_messaging_api_blob(emulator):
    line = LineApi(emulator.base_url, TOKEN)
    mid = put_content(emulator, b"\xff\xd8\xff\xe0 some jpeg bytes", "image/jpeg")
    data, content_type = line.content(mid)
    assert data == b"\xff\xd8\xff\xe0 some jpeg bytes"
    assert content_type == "image/jpeg"


def test_unknown_message_is_404(emulator):
    with pytest.raises(LineApiError) as err:
        LineApi(emulator.base_url, TOKEN).content("123")
    assert err.value.status == 404


def test_faults_are_answered_in_order_before_the_bytes(emulator):
    line = LineApi(emulator.base_url, TOKEN)
    mid = put_content(emulator, b"abc", "image/png", fail="500,404")
    statuses = []
    for _ in range(2):
        with pytest.raises(LineApiError) as err:
            line.content(mid)
        statuses.append(err.value.status)
    assert statuses == [500, 404]
    assert line.content(mid)[0] == b"abc"


def test_wrong_token_is_401(emulator):
    mid = put_content(emulator, b"abc")
    with pytest.raises(LineApiError) as err:
        LineApi(emulator.base_url, "wrong-token").content(mid)
    assert err.value.status == 401


def test_data_host_is_configurable_and_falls_back_to_the_api_base_url(emulator):
    assert data_base_url(None, "https://api.line.me") == DEFAULT_DATA_BASE_URL
    assert data_base_url(None, None) == DEFAULT_DATA_BASE_URL
    assert data_base_url(None, "http://127.0.0.1:9100") == "http://127.0.0.1:9100"
    assert data_base_url("http://data.example", "http://127.0.0.1:9100") == "http://data.example"
    # A separate data host really is used for content (the API host here answers nothing).
    mid = put_content(emulator, b"xyz")
    line = LineApi("http://127.0.0.1:9", TOKEN, data_url=emulator.base_url)
    assert line.content(mid)[0] == b"xyz"


def test_reset_forgets_content(emulator):
    mid = put_content(emulator, b"abc")
    emulator.reset()
    with pytest.raises(LineApiError):
        LineApi(emulator.base_url, TOKEN).content(mid)
