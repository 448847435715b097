"""The retry decision every sender shares, as a pure function: no emulator, no database."""

from __future__ import annotations

import pytest

from common.delivery import Failed, Retry, Sent, Stop, backoff_delay, decide_retry


@pytest.mark.parametrize("status", [0, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried_until_the_limit(status):
    assert decide_retry(status, 1, "busy", max_attempts=5) == Retry()
    assert decide_retry(status, 4, "busy", max_attempts=5) == Retry()
    gave_up = decide_retry(status, 5, "busy", max_attempts=5)
    assert isinstance(gave_up, Failed) and gave_up.gave_up
    assert gave_up.reason == "gave up after 5 attempts: busy"


def test_409_means_an_earlier_attempt_with_the_same_key_was_accepted():
    assert decide_retry(409, 3, "conflict", max_attempts=5) == Sent(409)


@pytest.mark.parametrize("message", ["You have reached your monthly limit.", "MONTHLY LIMIT reached"])
def test_the_monthly_limit_stops_instead_of_retrying_all_month(message):
    assert decide_retry(429, 1, message, max_attempts=5) == Stop()
    assert decide_retry(429, 99, message, max_attempts=5) == Stop()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_other_client_errors_fail_at_once_with_lines_message(status):
    decision = decide_retry(status, 1, "The property, 'to', is invalid", max_attempts=5)
    assert decision == Failed("The property, 'to', is invalid")
    assert not decision.gave_up


def test_a_monthly_limit_word_in_another_status_is_not_a_stop():
    assert isinstance(decide_retry(400, 1, "monthly limit", max_attempts=5), Failed)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    for _ in range(50):
        assert 0.5 <= backoff_delay(1, 1.0, 30.0) <= 1.0
        assert 0.5 <= backoff_delay(4, 1.0, 30.0) <= 8.0
        assert 0.5 <= backoff_delay(20, 1.0, 30.0) <= 30.0
    assert max(backoff_delay(4, 1.0, 30.0) for _ in range(200)) > 2.0
