"""The app factory's settings: defaults < environment < test_config, and a missing secret outside dev
mode stops the start with the variable's name (never a half-configured bot)."""

from __future__ import annotations

import pytest

from webhook import DEFAULTS, REQUIRED_IN_PRODUCTION, ConfigError, create_app, load_config

SECRETS = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "SECRET_KEY": "k"}


@pytest.fixture
def clean_env(monkeypatch):
    for key in (*DEFAULTS, "MADOGUCHI_DEV"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_defaults_then_environment_then_test_config(clean_env):
    assert load_config(SECRETS)["ANSWER_THREADS"] == DEFAULTS["ANSWER_THREADS"]
    clean_env.setenv("ANSWER_THREADS", "3")
    clean_env.setenv("CONTACT_PHONE", "03-0000-0000")
    cfg = load_config(SECRETS)
    assert cfg["ANSWER_THREADS"] == 3  # environment strings are converted
    assert cfg["CONTACT_PHONE"] == "03-0000-0000"
    cfg = load_config({**SECRETS, "ANSWER_THREADS": 5})
    assert cfg["ANSWER_THREADS"] == 5
    assert cfg["CONTACT_PHONE"] == "03-0000-0000"  # what test_config leaves alone stays from the environment


def test_secrets_from_the_environment(clean_env):
    for key, value in SECRETS.items():
        clean_env.setenv(key, value + "-env")
    cfg = load_config()
    assert {k: cfg[k] for k in SECRETS} == {k: v + "-env" for k, v in SECRETS.items()}


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_a_missing_secret_outside_dev_mode_names_the_variable(clean_env, missing):
    given = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        load_config(given)
    assert missing in str(err.value)
    assert "MADOGUCHI_DEV" in str(err.value)
    with pytest.raises(ConfigError, match=missing):
        create_app(given)


def test_dev_mode_fills_in_development_secrets(clean_env):
    clean_env.setenv("MADOGUCHI_DEV", "1")
    cfg = load_config()
    assert cfg["DEV_MODE"] is True
    assert all(cfg[k] for k in REQUIRED_IN_PRODUCTION)


@pytest.mark.parametrize(("value", "problem"), [("many", "TRUSTED_PROXIES"), ("11", "TRUSTED_PROXIES")])
def test_an_invalid_setting_is_refused_by_name(clean_env, value, problem):
    clean_env.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match=problem):
        load_config(SECRETS)
