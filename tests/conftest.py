"""Shared fixtures: a real LINE emulator (HTTP, in a thread), the app on a temp SQLite file.

Modules marked `pytestmark = pytest.mark.both_engines` run every test that uses the app (or
`database_url`) twice: on SQLite and on a throwaway PostgreSQL cluster (tests/pgcluster.py),
each test in a fresh database.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

import linesim
from bot.runtime import runtime
from devtools.events import (
    SECRET,
    TOKEN,
    image_event,
    location_event,
    make_event,
    post_events,
    postback_event,
    sign,
    text_event,
)

# Test modules import these from here (the event builders live in devtools/, shared with bench/).
__all__ = [
    "PASSWORD",
    "ROLE_USERS",
    "ROOT",
    "SECRET",
    "TOKEN",
    "Resident",
    "create_accounts",
    "create_staff",
    "csrf_of",
    "deliver_alerts",
    "db_of",
    "follow",
    "image_event",
    "location_event",
    "logged_in",
    "login",
    "make_event",
    "page_csrf",
    "password_hash",
    "post_events",
    "postback_event",
    "say",
    "send_alert",
    "send_location",
    "sign",
    "tap",
    "text_event",
]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


class Emulator:
    """Test handle on a running linesim: its URL and its /_emulator control API."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def reset(self) -> None:
        self.http.post(f"{self.base_url}/_emulator/reset").raise_for_status()

    def mint_token(self, user_id: str | None = None) -> str:
        r = self.http.post(f"{self.base_url}/_emulator/reply-tokens", json={"userId": user_id} if user_id else {})
        r.raise_for_status()
        return r.json()["replyToken"]

    def messages(self, to: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"to": to, "kind": kind, "limit": 1_000_000}.items() if v is not None}
        r = self.http.get(f"{self.base_url}/_emulator/messages", params=params)
        r.raise_for_status()
        return r.json()["messages"]

    def replies(self, to: str) -> list[dict[str, Any]]:
        """The reply messages `to` got so far, oldest first."""
        return [m["message"] for m in self.messages(to=to, kind="reply")]

    def texts(self, to: str) -> list[str]:
        return [m["message"].get("text") or m["message"].get("altText", "") for m in self.messages(to)]

    def faults(self, **settings: Any) -> None:
        self.http.post(f"{self.base_url}/_emulator/faults", json=settings).raise_for_status()

    def add_user(self, user_id: str, language: str | None = None, name: str = "テスト") -> None:
        body = {"userId": user_id, "displayName": name}
        if language:
            body["language"] = language
        self.http.post(f"{self.base_url}/_emulator/users", json=body).raise_for_status()

    def delivery_counts(self) -> dict[str, Any]:
        return self.http.get(f"{self.base_url}/_emulator/delivery-counts").json()

    def requests_log(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.base_url}/_emulator/requests", params={"limit": 10000}).json()["requests"]

    def configure(self, **settings: Any) -> None:
        self.http.post(f"{self.base_url}/_emulator/config", json=settings).raise_for_status()

    def send_webhook(self, user_id: str, event: dict[str, Any], **extra: Any) -> dict[str, Any]:
        r = self.http.post(f"{self.base_url}/_emulator/webhook", json={"userId": user_id, "event": event, **extra})
        return r.json()


@pytest.fixture(scope="session")
def emulator_server():
    app = linesim.create_app(SECRET, TOKEN, None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Emulator(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    emulator_server.reset()
    return emulator_server


# The PostgreSQL runs start a cluster and copy a database per test: `make test-fast` leaves them out.
ENGINES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.slow))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_engines") and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One PostgreSQL cluster for the session (Debian's binaries; `make test` installs them)."""
    from devtools.pgcluster import PgCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): run scripts/ensure-postgresql.sh"
        )
    cluster = PgCluster(bindir).start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine of this test: SQLite unless the module runs on both engines."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run: copying it costs a fifth of migrating every test's file.

    The migrations themselves (fresh files, processes starting together) are tested in
    test_store_engines.py on files of their own.
    """
    from store import Store

    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    store = Store(f"sqlite:///{path}")
    store.ensure_ready()  # closes its connection: the WAL is checkpointed into the file
    store.close()
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def database_url(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh migrated database of the test's engine (a copy of one migrated at session start)."""
    if engine == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        return cluster.new_database(template=cluster.migrated_template())
    path = tmp_path / "test.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


def kept_dir(config: pytest.Config, name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory kept between runs in .pytest_cache (a fresh temporary one under -p no:cacheprovider)."""
    cache = getattr(config, "cache", None)
    return Path(cache.mkdir(name)) if cache is not None else tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session")
def embeddings_cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One FAQ embeddings cache for every app of the run, kept between runs.

    Vectors are keyed by model and text, so a warm cache changes no answer: each app then
    attaches the semantic stage inline, as a restarted production worker does, instead of
    embedding the sample FAQ again in a background thread that competes with the tests for
    the cores. The tests of cold embedding give their FaqRuntime a directory of their own.
    """
    return kept_dir(request.config, "madoguchi-cache", tmp_path_factory)


@pytest.fixture
def app_config(database_url: str, emulator: Emulator, embeddings_cache_dir: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": emulator.base_url,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "FAQ_RELOAD_SECONDS": 0,
        "MADOGUCHI_CACHE_DIR": str(embeddings_cache_dir),
        # Answer inside the request so a test can read the emulator right after posting;
        # the asynchronous path is tested on its own (test_inbox.py) and end to end.
        "WEBHOOK_ASYNC": False,
    }


@pytest.fixture
def app(app_config: dict[str, Any]):
    from webhook import create_app

    app = create_app(app_config)
    yield app
    # Give the pooled PostgreSQL connections back (a no-op for SQLite's per-thread ones).
    runtime(app).store.close()


@pytest.fixture
def rt(app):
    """The app's runtime, inside an app context (services that read the app's settings need one)."""
    with app.app_context():
        yield runtime(app)


@pytest.fixture
def db(app):
    """The app's database connection, inside an app context."""
    with app.app_context():
        yield runtime(app).store.db


def db_of(app):
    """This thread's connection to `app`'s database."""
    return runtime(app).store.db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- the resident driver: one event in, the bot's replies to it out --------------------------------

RESIDENT = "U" + "7" * 32


def send(client, emulator: Emulator, event_for_token: Callable[[str], dict[str, Any]], user: str) -> list[dict]:
    """Post one signed event (built for a fresh reply token) and return the replies it got."""
    before = len(emulator.messages(to=user))
    assert post_events(client, [event_for_token(emulator.mint_token(user))]).status_code == 200
    return [m["message"] for m in emulator.messages(to=user)[before:] if m["kind"] == "reply"]


def say(client, emulator: Emulator, text: str, user: str = RESIDENT) -> list[dict]:
    return send(client, emulator, lambda token: text_event(user, text, token), user)


def tap(client, emulator: Emulator, data: str, user: str = RESIDENT) -> list[dict]:
    """A postback (a tapped button or quick reply) carrying `data`."""
    return send(client, emulator, lambda token: postback_event(user, data, token), user)


def send_location(
    client, emulator: Emulator, lat: float, lon: float, user: str = RESIDENT, address: str = "東京都みどり区"
) -> list[dict]:
    return send(client, emulator, lambda token: location_event(user, token, lat, lon, address), user)


def follow(client, emulator: Emulator, user: str = RESIDENT) -> list[dict]:
    return send(client, emulator, lambda token: make_event("follow", user, token, follow={"isUnblocked": False}), user)


class Resident:
    """One resident chatting with the bot through the test client; each call returns the replies."""

    def __init__(self, client, emulator: Emulator, user: str = RESIDENT):
        self.client, self.emulator, self.user = client, emulator, user

    def say(self, text: str) -> list[dict]:
        return say(self.client, self.emulator, text, self.user)

    def tap(self, data: str) -> list[dict]:
        return tap(self.client, self.emulator, data, self.user)

    def send_location(self, lat: float, lon: float, address: str = "東京都みどり区") -> list[dict]:
        return send_location(self.client, self.emulator, lat, lon, self.user, address)

    def follow(self) -> list[dict]:
        return follow(self.client, self.emulator, self.user)


@pytest.fixture
def resident(client, emulator: Emulator) -> Resident:
    return Resident(client, emulator)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (browser tests skip themselves when it is not installed)."""
    from devtools.stack import chromium

    with chromium() as b:
        yield b


@functools.cache
def password_hash(password: str) -> str:
    """scrypt is slow on purpose (0.1–0.2 s a call): each test password is hashed once per run."""
    from common import security

    return security.hash_password(password)


# --- alerts ---------------------------------------------------------------------------------------


def deliver_alerts(rt, alert_id: int | str | None = None) -> Any:
    """Run the alert delivery worker once (no rate limit; a retry waits 10 ms instead of seconds)."""
    from alerts.worker import run_worker

    alert_id = int(alert_id) if alert_id is not None else None
    return run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=alert_id, backoff_base=0.01)


def send_alert(rt, by: str = "tanaka", approver: str = "suzuki", **fields: Any) -> int:
    """An alert written by `by`, approved and started by `approver`, delivered once; returns its id."""
    from alerts import service

    db = rt.store.db
    alert_id = service.create_alert(db, by=by, **fields)
    service.approve(db, alert_id, approver)
    service.start_delivery(db, alert_id, approver)
    deliver_alerts(rt, alert_id)
    return alert_id


# --- the console: accounts, a settable clock, logging in ------------------------------------------

PASSWORD = "kuyakusho-Midori-2026"
ROLE_USERS = {"admin": "root1", "staff": "staff1", "operator": "oper1", "approver": "appr1"}


def create_staff(db, name: str, role: str, password: str = PASSWORD) -> None:
    """One console account (in the database `db`) that can log in with `password`."""
    from store import admin as admin_store

    admin_store.create_user(db, name, role, password_hash(password))


@pytest.fixture
def clock():
    """The console's clock (`ADMIN_CLOCK`): tests move `clock.t` to pass timeouts."""

    class Clock:
        t = time.time()

        def __call__(self):
            return self.t

    return Clock()


@pytest.fixture
def admin_app(app, clock):
    """The app with one account per role (ROLE_USERS, all with PASSWORD) and the settable clock."""
    app.config["ADMIN_CLOCK"] = clock
    for role, name in ROLE_USERS.items():
        create_staff(runtime(app).store.db, name, role)
    return app


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf token in page"
    return m.group(1)


def login(client, name: str, password: str = PASSWORD):
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"name": name, "password": password, "csrf_token": csrf_of(page.text)})


def logged_in(app, role: str):
    """A test client logged in as the ROLE_USERS account of `role`."""
    c = app.test_client()
    r = login(c, ROLE_USERS[role])
    assert r.status_code == 302, r.text
    return c


def page_csrf(client, path: str = "/admin/") -> str:
    return csrf_of(client.get(path).text)


def create_accounts(app, **roles: str) -> None:
    """Console accounts (name=role) that CLI `--by` names must match once any account exists."""
    from store import admin as admin_store

    db = runtime(app).store.db
    for name, role in roles.items():
        admin_store.create_user(db, name, role, password_hash(f"unused-{name}-Pass-2026"))
