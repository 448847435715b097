"""Login, logout, own password, and user management (admin)."""

from __future__ import annotations

import math

from flask import current_app, flash, g, make_response, redirect, render_template, request, session, url_for

from admin import bp
from admin.guard import audit, client_ip, db, login_csrf, now, public, roles, safe_next
from common import security
from store import admin as admin_store
from store import audit as audit_store


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    status = 200
    name = ""
    retry_after = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        try:
            user = security.authenticate(
                db(), name, password, client_ip(), now(), salt=str(current_app.config.get("SECRET_KEY") or "")
            )
        except security.LoginRefused as exc:
            if exc.throttled:
                retry_after = max(1, math.ceil(exc.wait - 1e-6))  # float noise must not add a second
                error, status = (
                    f"ログインの試行が多すぎます。{retry_after}秒後にもう一度お試しください。",
                    429,
                )
            else:
                error, status = "ユーザー名またはパスワードが違います。", 401
            audit_store.count_login_failure(db(), exc.actor, f"web {client_ip()}", exc.throttled, now=now())
        else:
            # A fresh session id on every login (no fixation): drop any session this browser had.
            security.end_session(db(), request.cookies.get(security.COOKIE_NAME))
            token, _csrf = security.start_session(db(), user.name, client_ip(), now())
            g.admin_user = user.name
            audit("login")
            session.pop("login_csrf", None)
            resp = make_response(redirect(safe_next(request.args.get("next"))))
            resp.set_cookie(
                security.COOKIE_NAME,
                token,
                httponly=True,
                secure=current_app.config.get("SESSION_COOKIE_SECURE", True),
                samesite="Lax",
                path="/admin",
            )
            return resp
    g.admin_user = g.csrf_token = None  # the login page shows no signed-in header
    resp = make_response(
        render_template("admin/login.html", error=error, name=name[:100], login_csrf=login_csrf()), status
    )
    if status == 429:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


@bp.route("/logout", methods=["POST"])
@roles("*")
def logout():
    audit("logout")
    security.end_session(db(), request.cookies.get(security.COOKIE_NAME))
    resp = make_response(redirect(url_for("admin.login")))
    resp.delete_cookie(security.COOKIE_NAME, path="/admin")
    return resp


@bp.route("/account", methods=["GET", "POST"])
@roles("*")
def account():
    error = None
    if request.method == "POST":
        user = admin_store.get_user(db(), g.admin_user)
        current, new, again = (request.form.get(k, "") for k in ("current", "new", "again"))
        try:
            if not security.verify_password(current, user.password_hash):
                raise security.PasswordRejected("現在のパスワードが違います。")
            if new != again:
                raise security.PasswordRejected("新しいパスワードが一致しません。")
            security.check_password_policy(new, user.name)
        except security.PasswordRejected as exc:
            error = str(exc)
        else:
            admin_store.set_password_hash(db(), user.name, security.hash_password(new))
            audit("user.password", user.name)
            flash("パスワードを変更しました。もう一度ログインしてください。")
            return redirect(url_for("admin.login"))
    return render_template("admin/account.html", error=error), 400 if error else 200


@bp.route("/users", methods=["GET"])
@roles("admin")
def users():
    return render_template("admin/users.html", users=admin_store.list_users(db()), roles=admin_store.ROLES, error=None)


@bp.route("/users", methods=["POST"])
@roles("admin")
def users_create():
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    error = None
    try:
        try:
            name = security.clean_username(name)
        except security.NameRejected as exc:
            raise security.PasswordRejected(str(exc)) from None
        if name in security.RESERVED_NAMES:
            raise security.PasswordRejected(f"{name} は予約された名前です。別の名前にしてください。")
        if role not in admin_store.ROLES:
            raise security.PasswordRejected("役割を選んでください。")
        security.check_password_policy(password, name)
        admin_store.create_user(db(), name, role, security.hash_password(password))
    except security.PasswordRejected as exc:
        error = str(exc)
    except admin_store.UserExists:
        error = f"ユーザー {name} はすでにあります。"
    if error:
        return render_template(
            "admin/users.html", users=admin_store.list_users(db()), roles=admin_store.ROLES, error=error
        ), 400
    audit("user.create", name, {"role": role})
    flash(f"ユーザー {name} を作成しました。")
    return redirect(url_for("admin.users"))


@bp.route("/users/<name>", methods=["POST"])
@roles("admin")
def users_update(name: str):
    role = request.form.get("role") or None
    disabled = {"1": True, "0": False}.get(request.form.get("disabled", ""))
    if name == g.admin_user and (disabled or (role and role != "admin")):
        flash("自分自身を無効化したり、管理者以外にしたりはできません。")
        return redirect(url_for("admin.users"))
    try:
        admin_store.update_user(db(), name, role=role, disabled=disabled)
    except (admin_store.UnknownUser, ValueError):
        flash("ユーザーまたは役割が見つかりません。")
        return redirect(url_for("admin.users"))
    audit("user.update", name, {"role": role, "disabled": disabled})
    flash(f"ユーザー {name} を更新しました。")
    return redirect(url_for("admin.users"))
