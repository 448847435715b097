"""The checks every console request passes: session, role, CSRF; plus helpers the views share.

Default deny: a view without a `@roles(...)` or `@public` marker answers 403 to everyone,
so a new route cannot be exposed by forgetting a decorator.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from sqlite_utils import Database
from werkzeug.exceptions import HTTPException

import wardtime
from admin import bp
from bot.runtime import runtime
from common import security
from store import audit as audit_store
from store import vocab

ROLE_LABELS = security.ROLE_LABELS


def roles(*allowed: str) -> Callable:
    """Mark a view as open to these roles (admin is always allowed; "*" = any signed-in user)."""

    def deco(fn: Callable) -> Callable:
        fn.admin_roles = frozenset(allowed) | {"admin"}  # type: ignore[attr-defined]
        return fn

    return deco


def public(fn: Callable) -> Callable:
    fn.admin_public = True  # type: ignore[attr-defined]
    return fn


def db() -> Database:
    return runtime().store.db


def now() -> float:
    return security.now_fn(current_app.config)()


def client_ip() -> str:
    return request.remote_addr or "-"


def audit(action: str, target: str | None = None, detail: Any = None) -> None:
    user = g.get("admin_user") or "-"
    audit_store.record(db(), user, action, target, detail, source=f"web {client_ip()}")


def role_allows(view: Callable | None, role: str | None) -> bool:
    allowed = getattr(view, "admin_roles", frozenset())
    return role is not None and ("*" in allowed or role in allowed)


def can(endpoint: str) -> bool:
    """Templates: show a link or button only when the current user may use it."""
    return role_allows(current_app.view_functions.get(endpoint), g.get("admin_role"))


def wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def safe_next(target: str | None, default: str = "admin.dashboard") -> str:
    """Only a same-site console path as a redirect target (never another host), else `default`.

    Browsers read `/\\evil.example` and `//evil.example` as other hosts, and drop tabs and
    newlines inside URLs, so anything but a plain `/admin/…` path is refused.
    """
    if (
        target
        and target.startswith("/admin/")
        and "\\" not in target
        and not any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)
        and not urlsplit(target).netloc
        and not urlsplit(target).scheme
    ):
        return target
    return url_for(default)


def login_csrf() -> str:
    """A CSRF token for the login form (anonymous: kept in Flask's signed session cookie)."""
    tok = session.get("login_csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["login_csrf"] = tok
    return tok


@bp.before_request
def check_request():
    # A fresh nonce per response: the only inline scripts that run are the ones our templates mark.
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.endpoint in (None, "admin.static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    g.admin_user = None
    g.admin_role = None
    g.csrf_token = None
    token = request.cookies.get(security.COOKIE_NAME)
    sess = security.load_session(db(), token, now()) if token else None
    if sess is not None:
        g.admin_user = sess["user"]
        g.admin_role = sess["role"]
        g.csrf_token = sess["csrf"]
        g.admin_session_key = sess["key"]
    if getattr(view, "admin_public", False):
        if request.method == "POST" and not security.csrf_ok(session.get("login_csrf"), request.form.get("csrf_token")):
            abort(400, description="フォームの有効期限が切れました。もう一度お試しください。")
        return None
    if sess is None:
        if wants_json() or request.method != "GET":
            abort(401, description="ログインしてください。")
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if not role_allows(view, g.admin_role):
        abort(403, description="この画面を使う権限がありません。")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not security.csrf_ok(g.csrf_token, given):
            abort(400, description="フォームの有効期限が切れました（CSRFトークン不一致）。画面を開き直してください。")
    return None


@bp.after_app_request
def security_headers(resp):
    # After every request under /admin, also those no console route matched (a 404, a 405).
    if not request.path.startswith("/admin"):
        return resp
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    nonce = g.get("csp_nonce")
    scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"script-src {scripts}; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return resp


@bp.errorhandler(HTTPException)
def http_error(err: HTTPException):
    if wants_json() or err.code == 405:
        return jsonify(error=err.name, message=err.description), err.code
    return render_template("admin/error.html", err=err), err.code


@bp.context_processor
def inject() -> dict[str, Any]:
    return {
        "admin_user": g.get("admin_user"),
        "admin_role": g.get("admin_role"),
        "csrf_token": g.get("csrf_token"),
        "csp_nonce": g.get("csp_nonce", ""),
        "can": can,
        "ROLE_LABELS": ROLE_LABELS,
    }


@bp.app_template_filter("label")
def vocab_label(code: str | None, vocabulary: str) -> str:
    """A code as staff read it: `{{ r.status|label("bulky_status") }}` (the tables of store/vocab.py)."""
    return "—" if code is None else vocab.ALL[vocabulary].label(code)


@bp.app_template_filter("dt")
def format_dt(value: float | str | None, seconds: bool = False) -> Markup:
    """Every time on a console page: the ward's zone, labelled, machine-readable in `datetime`."""
    if value is None or value == "":
        return Markup("—")
    tz = current_app.config.get("WARD_TZ")
    try:
        moment = wardtime.to_local(value, tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return Markup.escape(str(value))
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(timespec="seconds"), wardtime.format_time(moment, tz, seconds=seconds)
    )
