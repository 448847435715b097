"""The app factory's settings: defaults < environment < test_config, and a missing secret outside dev
mode stops the start with the variable's name (never a half-configured bot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import runtime
from webhook import DEFAULTS, REQUIRED_IN_PRODUCTION, ConfigError, create_app, load_config

SECRETS = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "SECRET_KEY": "k"}


@pytest.fixture
def clean_env(monkeypatch):
    for key in (*DEFAULTS, "MADOGUCHI_DEV"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


# The process-wide knobs services used to read from the environment themselves: read once here,
# with the same precedence as every other setting. (variable, environment string, its value)
KNOBS = [
    ("MADOGUCHI_SEMANTIC", "off", False),
    ("MADOGUCHI_QUERY_CACHE", "0", 0),
    ("MADOGUCHI_CACHE_DIR", "/var/cache/madoguchi", "/var/cache/madoguchi"),
    ("MADOGUCHI_PG_POOL_MAX", "4", 4),
    ("MADOGUCHI_PG_POOL_TIMEOUT", "1.5", 1.5),
]


@pytest.mark.parametrize(("key", "env", "value"), KNOBS)
def test_process_knobs_keep_their_environment_names_and_precedence(clean_env, key, env, value):
    assert load_config(SECRETS)[key] == DEFAULTS[key]
    clean_env.setenv(key, env)
    assert load_config(SECRETS)[key] == value
    assert load_config({**SECRETS, key: DEFAULTS[key]})[key] == DEFAULTS[key]  # test_config wins


@pytest.mark.parametrize("word", ["0", "false", "No", " off "])
def test_the_semantic_stage_is_switched_off_only_in_words(clean_env, word):
    clean_env.setenv("MADOGUCHI_SEMANTIC", word)
    assert load_config(SECRETS)["MADOGUCHI_SEMANTIC"] is False
    clean_env.setenv("MADOGUCHI_SEMANTIC", "1")
    assert load_config(SECRETS)["MADOGUCHI_SEMANTIC"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MADOGUCHI_QUERY_CACHE", "many"),
        ("MADOGUCHI_QUERY_CACHE", "-1"),
        ("MADOGUCHI_PG_POOL_MAX", "0"),
        ("MADOGUCHI_PG_POOL_TIMEOUT", "soon"),
    ],
)
def test_a_bad_knob_is_refused_by_name(clean_env, key, value):
    clean_env.setenv(key, value)
    with pytest.raises(ConfigError, match=key):
        load_config(SECRETS)


def test_the_knobs_reach_the_store_and_the_faq(clean_env, tmp_path):
    for key, env, _ in KNOBS:
        clean_env.setenv(key, env)
    # A PostgreSQL URL nobody listens on: building the app opens no connection.
    app = create_app({**SECRETS, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    rt = runtime(app)
    assert (rt.store._pg.max_size, rt.store._pg.timeout) == (4, 1.5)
    assert rt.store.cache_dir == Path("/var/cache/madoguchi")
    assert (rt.faq.semantic, rt.faq.query_cache) == (False, 0)
    assert rt.faq.embeddings_dir == Path("/var/cache/madoguchi/embeddings")


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


def test_embeddings_go_next_to_the_sqlite_file_unless_a_cache_dir_is_set(clean_env, tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'madoguchi.db'}"
    app = create_app({**SECRETS, "DATABASE_URL": url})
    assert runtime(app).faq.embeddings_dir == tmp_path / "db" / "embeddings"
    clean_env.setenv("MADOGUCHI_CACHE_DIR", str(tmp_path / "shared-cache"))
    app = create_app({**SECRETS, "DATABASE_URL": url})
    assert runtime(app).faq.embeddings_dir == tmp_path / "shared-cache" / "embeddings"
