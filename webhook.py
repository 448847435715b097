"""madoguchi: the Flask app factory (`gunicorn "webhook:create_app()"`, `flask --app webhook …`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from linebot.v3.webhook import SignatureValidator
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import wardtime
from bot import bodylimit
from bot.answer_worker import AnswerWorker
from bot.faq_runtime import FaqRuntime
from bot.runtime import Runtime
from common.areas import Areas, AreasFileError
from common.line_api import LineApi
from common.runtime import install
from store import Store, StoreUnavailable

ROOT = Path(__file__).resolve().parent

DEFAULTS: dict[str, Any] = {
    "DEV_MODE": False,
    "LINE_CHANNEL_SECRET": None,
    "LINE_CHANNEL_ACCESS_TOKEN": None,
    "LINE_API_BASE_URL": "https://api.line.me",
    # Message content (photos); unset: LINE_API_BASE_URL when that is not LINE's, else api-data.line.me.
    "LINE_API_DATA_BASE_URL": None,
    "DATABASE_URL": "sqlite:///instance/madoguchi.db",
    "FAQ_CSV": str(ROOT / "faq" / "data" / "sample_faq.csv"),
    "SHELTERS_CSV": str(ROOT / "shelters" / "data" / "sample_shelters.csv"),
    "SYNONYMS_CSV": str(ROOT / "data" / "synonyms.csv"),
    "AREAS_CSV": str(ROOT / "data" / "areas.csv"),
    "RICHMENU_CSV": str(ROOT / "data" / "richmenu.csv"),
    "OPINION_TOPICS_CSV": str(ROOT / "data" / "opinion_topics.csv"),
    "URGENT_CSV": str(ROOT / "data" / "urgent.csv"),
    "URGENT_HAS_7119": True,
    "SECRET_KEY": None,
    "SIMULATOR_URL": "http://127.0.0.1:9100/",
    "CONTACT_PHONE": "03-5900-1111（みどり区役所 代表）",
    "CONTACT_HOURS": "平日 8:30〜17:15",
    "CONTACT_URL": "https://www.city.midori.example.jp/",
    "FAQ_RELOAD_SECONDS": 0.0,
    # Every request body: LINE's webhooks are a few kB (upload routes declare their own limit).
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # The web process acknowledges and answer workers answer (False: answer inside the
    # request, for tests and dev only).
    "WEBHOOK_ASYNC": True,
    "ANSWER_THREADS": 8,
    # CPU priority of answer workers below the web processes on a shared host (0: same).
    "ANSWER_NICE": 5,
    # An answer worker's heartbeat older than this: its events are taken over.
    "ANSWER_LEASE_SECONDS": 10.0,
    "ANSWER_POLL_SECONDS": 0.05,
    # A question still unanswered after this gets a short apology instead of an answer.
    "ANSWER_MAX_AGE_SECONDS": 3600.0,
    # Answers later than this start with 「お待たせしました」.
    "ANSWER_LATE_SECONDS": 20.0,
    # Past this age the reply token is taken as expired: the answer is pushed.
    "REPLY_TOKEN_SECONDS": 50.0,
    "EVENT_ID_RETENTION_DAYS": 7,
    "QUERY_LOG_RETENTION_DAYS": 365,
    "ALERT_STALE_MINUTES": 30,
    "LINE_MULTICAST_RPS": 100,
    "WARD_TIMEZONE": wardtime.DEFAULT_ZONE,
    # Residents' reports (道路・街路灯・公園…).
    "MEDIA_DIR": "instance/media",
    "REPORT_KINDS_CSV": str(ROOT / "reports" / "data" / "report_kinds.csv"),
    "REPORT_AREA_POINTS_CSV": str(ROOT / "data" / "area_points.csv"),
    "REPORTS_PER_DAY": 10,
    "REPORT_DRAFT_MINUTES": 30,
    "REPORT_OUTSIDE_M": 3000,
    "REPORT_PHOTO_MAX_MB": 10,
    "REPORT_RETENTION_DAYS": 365,
    # Reverse proxies in front of the app that append X-Forwarded-For (0: use the peer address;
    # a client could forge the header, and login throttling counts by that address).
    "TRUSTED_PROXIES": 0,
    # Process-wide knobs, named as in the environment (services get them passed in).
    "MADOGUCHI_SEMANTIC": True,  # the e5 stage of FAQ search ("0", "false", "no", "off": lexical only)
    "MADOGUCHI_QUERY_CACHE": 2048,  # query embeddings kept per process (0: none, for benchmarks)
    # Local directory for caches (FAQ embeddings); unset: next to the SQLite file, else instance/.
    # Vectors are keyed by text, so databases on one host (staging beside production) can share it.
    "MADOGUCHI_CACHE_DIR": None,
    "MADOGUCHI_PG_POOL_MAX": 10,  # PostgreSQL connections per process
    "MADOGUCHI_PG_POOL_TIMEOUT": 3.0,  # seconds a statement waits for one before a 503
}
_NUMBERS: dict[str, tuple[type, float]] = {
    "MADOGUCHI_QUERY_CACHE": (int, 0),
    "MADOGUCHI_PG_POOL_MAX": (int, 1),
    "MADOGUCHI_PG_POOL_TIMEOUT": (float, 0.1),
}
# Read from the environment when set (strings; numbers converted below).
ENV_KEYS = tuple(k for k in DEFAULTS if k != "DEV_MODE") + ("MADOGUCHI_DEV",)
REQUIRED_IN_PRODUCTION = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "SECRET_KEY")
DEV_SECRETS = {
    "LINE_CHANNEL_SECRET": "dev-channel-secret",
    "LINE_CHANNEL_ACCESS_TOKEN": "dev-access-token",
    "SECRET_KEY": "dev-secret-key-not-for-production",
}


class ConfigError(RuntimeError):
    """A required setting is missing or invalid."""


def load_config(test_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then `test_config`."""
    cfg = dict(DEFAULTS)
    for key in ENV_KEYS:
        if key in os.environ:
            cfg[key] = os.environ[key]
    if "MADOGUCHI_DEV" in cfg:
        cfg["DEV_MODE"] = str(cfg.pop("MADOGUCHI_DEV")).lower() in ("1", "true", "yes")
    if test_config:
        cfg.update(test_config)
    for key in ("WEBHOOK_ASYNC", "URGENT_HAS_7119"):
        if isinstance(cfg[key], str):
            cfg[key] = cfg[key].lower() in ("1", "true", "yes")
    if isinstance(cfg["MADOGUCHI_SEMANTIC"], str):
        # On unless switched off in words: a typo must not silently lower the answers' quality.
        cfg["MADOGUCHI_SEMANTIC"] = cfg["MADOGUCHI_SEMANTIC"].strip().lower() not in ("0", "false", "no", "off")
    for key, (kind, least) in _NUMBERS.items():
        try:
            cfg[key] = kind(cfg[key])
            if cfg[key] < least:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{key} must be a number of at least {least:g} (got {cfg[key]!r})") from None
    for key in (
        "FAQ_RELOAD_SECONDS",
        "ANSWER_LEASE_SECONDS",
        "ANSWER_POLL_SECONDS",
        "ANSWER_MAX_AGE_SECONDS",
        "ANSWER_LATE_SECONDS",
        "REPLY_TOKEN_SECONDS",
        "ALERT_STALE_MINUTES",
    ):
        cfg[key] = float(cfg[key])
    for key in (
        "EVENT_ID_RETENTION_DAYS",
        "QUERY_LOG_RETENTION_DAYS",
        "ANSWER_THREADS",
        "ANSWER_NICE",
        "MAX_CONTENT_LENGTH",
    ):
        cfg[key] = int(cfg[key])
    try:
        wardtime.load_zone(cfg["WARD_TIMEZONE"])
    except ValueError as exc:
        raise ConfigError(f"WARD_TIMEZONE: {exc}") from None
    try:
        cfg["TRUSTED_PROXIES"] = int(cfg["TRUSTED_PROXIES"])
        if not 0 <= cfg["TRUSTED_PROXIES"] <= 10:
            raise ValueError
    except ValueError:
        raise ConfigError("TRUSTED_PROXIES must be the number of reverse proxies in front of the app (0–10)") from None
    for key in REQUIRED_IN_PRODUCTION:
        if not cfg.get(key):
            if cfg["DEV_MODE"]:
                cfg[key] = DEV_SECRETS[key]
            else:
                raise ConfigError(f"{key} is not set (required outside dev mode; set MADOGUCHI_DEV=1 for local use)")
    return cfg


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    cfg = load_config(test_config)
    app.config.update(cfg)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = not cfg["DEV_MODE"] and not cfg.get("TESTING", False)
    if cfg["TRUSTED_PROXIES"]:
        # Like ProxyFix: the client is the address the outermost trusted proxy saw (the Nth
        # X-Forwarded-For value from the right); anything further left was written by the client.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg["TRUSTED_PROXIES"])  # type: ignore[method-assign]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Pages read the app's own zone; code without an app (CLI messages, services) the process's.
    app.config["WARD_TZ"] = wardtime.configure(cfg["WARD_TIMEZONE"])
    try:
        areas = Areas.load(cfg["AREAS_CSV"])
    except AreasFileError as exc:
        raise ConfigError(f"AREAS_CSV: {exc}") from None
    store = Store(
        cfg["DATABASE_URL"],
        cache_dir=cfg["MADOGUCHI_CACHE_DIR"],
        pool_max=cfg["MADOGUCHI_PG_POOL_MAX"],
        pool_timeout=cfg["MADOGUCHI_PG_POOL_TIMEOUT"],
    )
    runtime = Runtime(
        store=store,
        line=LineApi(
            cfg["LINE_API_BASE_URL"], cfg["LINE_CHANNEL_ACCESS_TOKEN"], data_url=cfg.get("LINE_API_DATA_BASE_URL")
        ),
        faq=FaqRuntime(
            store,
            Path(cfg["FAQ_CSV"]),
            synonyms_csv=Path(cfg["SYNONYMS_CSV"]) if cfg.get("SYNONYMS_CSV") else None,
            check_interval=cfg["FAQ_RELOAD_SECONDS"],
            embeddings_dir=store.cache_dir / "embeddings",
            semantic=cfg["MADOGUCHI_SEMANTIC"],
            query_cache=cfg["MADOGUCHI_QUERY_CACHE"],
        ),
        signatures=SignatureValidator(cfg["LINE_CHANNEL_SECRET"]),
        answers=AnswerWorker(app),
        areas=areas,
    )
    install(app, runtime)
    bodylimit.install(app)

    @app.after_request
    def no_sniffing(response):
        # Public JSON/CSV (shelters, Open311) and the webhook's answers are data, never to be
        # sniffed into HTML or script by a browser; pages set their own headers on top.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    from admin import bp as admin_bp
    from bot.routes import bp as bot_bp
    from reports.web import bp as open311_bp
    from shelters.web import bp as shelters_bp

    app.register_blueprint(bot_bp)
    app.register_blueprint(shelters_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(admin_bp)
    if cfg["DEV_MODE"]:
        from bot.simulator import bp as sim_bp

        app.register_blueprint(sim_bp)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return jsonify(error=err.name, message=err.description), err.code

    @app.errorhandler(StoreUnavailable)
    def database_unavailable(err: StoreUnavailable):
        # A database that is restarting fails the request fast: LINE redelivers a webhook
        # that did not get 200, and the dedup table keeps the redelivery from doubling.
        logging.getLogger(__name__).warning("database unavailable, answering 503: %s", err)
        return jsonify(error="Service Unavailable", message="database unavailable"), 503, {"Retry-After": "1"}

    from commands import register_commands

    register_commands(app)
    return app
