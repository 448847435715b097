"""The console: accounts, sessions, CSRF, role checks on every route, FAQ flow, unanswered queue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.runtime import runtime
from common import security
from store import admin as admin_store
from store import audit as audit_store
from store import core as core_store
from tests.conftest import PASSWORD, ROLE_USERS, create_staff, csrf_of, logged_in, login, page_csrf

pytestmark = pytest.mark.both_engines

ROOT = Path(__file__).resolve().parent.parent

# Who may use what (the policy, written independently of the views' own decorators).
POLICY = [
    ("admin.login", "public"),
    ("admin.dashboard", "*"),
    ("admin.account", "*"),
    ("admin.logout", "*"),
    ("admin.faq", {"staff"}),
    ("admin.unanswered", {"staff"}),
    ("admin.shelter", {"operator"}),
    ("admin.alert_approve", {"approver"}),
    ("admin.alert_send", {"approver"}),
    ("admin.approvals", {"approver"}),
    ("admin.alert_new", {"operator"}),
    ("admin.alert_create", {"operator"}),
    ("admin.alert_cancel", {"operator", "approver"}),
    ("admin.alert_correct", {"operator"}),
    ("admin.alert_lift", {"operator"}),
    ("admin.alert", {"operator", "approver"}),
    ("admin.report", {"staff"}),
    ("admin.garbage", {"staff"}),
    ("admin.survey_approve", {"approver"}),
    ("admin.survey_new", {"staff", "operator"}),
    ("admin.survey", {"staff", "operator", "approver"}),
    ("admin.opinion", {"staff", "approver"}),
    ("admin.users", set()),
    ("admin.audit", set()),
]


def expected_roles(endpoint: str):
    for prefix, roles in POLICY:
        if endpoint == prefix or endpoint.startswith(prefix):
            return roles
    raise AssertionError(f"{endpoint} is not in the test's POLICY: add it")


def admin_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and rule.endpoint != "admin.static":
            args = {a: 1 if "Integer" in type(rule._converters[a]).__name__ else "x" for a in rule.arguments}
            path = rule.build(args, append_unknown=False)[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, path


# --- passwords and accounts ---------------------------------------------------------------


def test_password_policy_and_hashing():
    with pytest.raises(security.PasswordRejected):
        security.check_password_policy("short-pw")
    with pytest.raises(security.PasswordRejected):
        security.check_password_policy("password1234")  # long enough but common
    with pytest.raises(security.PasswordRejected):
        security.check_password_policy("tanaka-is-great", "tanaka")
    assert len(security.common_passwords()) >= 300
    security.check_password_policy(PASSWORD, "root1")
    h = security.hash_password(PASSWORD)
    assert h.startswith("scrypt$") and PASSWORD not in h
    assert security.verify_password(PASSWORD, h)
    assert not security.verify_password(PASSWORD + "x", h)


def test_cli_creates_users_with_hidden_prompt(runner, app):
    r = runner.invoke(args=["users", "create", "tanaka", "--role", "staff"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert PASSWORD not in r.output
    r = runner.invoke(args=["users", "create", "sato", "--role", "staff"], input="password1234\npassword1234\n")
    assert r.exit_code != 0 and "よく使われる" in r.output
    r = runner.invoke(args=["users", "create", "tanaka", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(args=["users", "list"])
    assert "tanaka\tstaff\tactive" in r.output
    r = runner.invoke(args=["users", "set-password", "tanaka"], input="another-Long-pass-9\nanother-Long-pass-9\n")
    assert r.exit_code == 0, r.output
    db = runtime(app).store.db
    assert security.verify_password("another-Long-pass-9", admin_store.get_user(db, "tanaka").password_hash)
    for cmd in ("create", "list", "set-password", "set-role", "disable"):
        r = runner.invoke(args=["users", cmd, "--help"])
        assert "Example:" in r.output


# --- login, sessions, rate limits -----------------------------------------------------------


def test_login_sets_hardened_cookie_and_new_session_id(admin_app):
    c = admin_app.test_client()
    c.set_cookie(security.COOKIE_NAME, "attacker-chosen-session-id", path="/admin")
    r = login(c, "staff1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    cookie_header = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(security.COOKIE_NAME)][0]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header
    token = c.get_cookie(security.COOKIE_NAME, path="/admin").value
    assert token != "attacker-chosen-session-id"
    # Logging in again issues yet another id; the old one is dead server-side.
    login(c, "staff1")
    token2 = c.get_cookie(security.COOKIE_NAME, path="/admin").value
    assert token2 != token
    other = admin_app.test_client()
    other.set_cookie(security.COOKIE_NAME, token, path="/admin")
    assert other.get("/admin/faq").status_code == 302
    # The database keeps only a hash of the cookie.
    db = runtime(admin_app).store.db
    assert admin_store.get_session(db, token2) is None
    assert admin_store.get_session(db, security.session_key(token2)) is not None


def test_cookie_secure_outside_testing(app_config):
    from webhook import create_app

    cfg = dict(app_config, TESTING=False)
    app = create_app(cfg)
    create_staff(runtime(app).store.db, "s", "staff")
    r = login(app.test_client(), "s")
    assert "Secure" in [h for h in r.headers.getlist("Set-Cookie") if h.startswith(security.COOKIE_NAME)][0]


def test_wrong_password_and_unknown_user_look_the_same(admin_app):
    c = admin_app.test_client()
    a = login(c, "staff1", "wrong-password-123")
    b = login(c, "nobody", "wrong-password-123")
    assert a.status_code == b.status_code == 401
    assert "ユーザー名またはパスワードが違います" in a.text and "ユーザー名またはパスワードが違います" in b.text


def test_wrong_passwords_cost_time_not_a_lock(admin_app, clock):
    free = security.ACCOUNT_BACKOFF.free
    c = admin_app.test_client()
    for _ in range(free):
        assert login(c, "staff1", "wrong-password-123").status_code == 401
    r = login(c, "staff1", PASSWORD)  # right, but the account waits after `free` wrong ones
    assert r.status_code == 429 and "2秒後にもう一度" in r.text and r.headers["Retry-After"] == "2"
    # Another account from the same address still works.
    assert login(admin_app.test_client(), "oper1").status_code == 302
    clock.t += 2
    assert login(c, "staff1", PASSWORD).status_code == 302


def test_idle_and_absolute_timeouts(admin_app, clock):
    c = logged_in(admin_app, "staff")
    clock.t += security.IDLE_TIMEOUT - 60
    assert c.get("/admin/faq").status_code == 200
    clock.t += security.IDLE_TIMEOUT + 1
    r = c.get("/admin/faq")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    # Absolute: active every 20 minutes, still logged out after 12 h.
    c = logged_in(admin_app, "staff")
    for _ in range(int(security.ABSOLUTE_TIMEOUT // 1200)):
        clock.t += 1200
        assert c.get("/admin/").status_code == 200
    clock.t += 1200
    assert c.get("/admin/").status_code == 302


def test_logout_invalidates_server_side(admin_app):
    c = logged_in(admin_app, "staff")
    token = c.get_cookie(security.COOKIE_NAME, path="/admin").value
    r = c.post("/admin/logout", data={"csrf_token": page_csrf(c)})
    assert r.status_code == 302
    replay = admin_app.test_client()
    replay.set_cookie(security.COOKIE_NAME, token, path="/admin")
    assert replay.get("/admin/").status_code == 302


def test_disabled_user_is_logged_out(admin_app):
    c = logged_in(admin_app, "staff")
    admin_store.update_user(runtime(admin_app).store.db, "staff1", disabled=True)
    assert c.get("/admin/").status_code == 302
    assert login(admin_app.test_client(), "staff1").status_code == 401


# --- every route: anonymous, wrong role, CSRF ------------------------------------------------


def test_every_admin_route_declares_its_roles(admin_app):
    for endpoint, _method, _path in admin_rules(admin_app):
        view = admin_app.view_functions[endpoint]
        expected = expected_roles(endpoint)
        if expected == "public":
            assert getattr(view, "admin_public", False), endpoint
        elif expected == "*":
            assert "*" in view.admin_roles, endpoint
        else:
            assert view.admin_roles == frozenset(expected) | {"admin"}, endpoint


def test_every_admin_route_refuses_anonymous(admin_app):
    c = admin_app.test_client()
    seen = 0
    for endpoint, method, path in admin_rules(admin_app):
        if endpoint == "admin.login":
            continue
        r = c.open(path, method=method)
        seen += 1
        assert r.status_code in (302, 401, 403), (endpoint, method, r.status_code)
        if r.status_code == 302:
            assert "/admin/login" in r.headers["Location"]
    assert seen >= 15


def test_every_admin_route_refuses_the_wrong_role(admin_app):
    clients = {role: logged_in(admin_app, role) for role in ROLE_USERS}
    tokens = {role: page_csrf(c) for role, c in clients.items()}
    checked = 0
    for endpoint, method, path in admin_rules(admin_app):
        expected = expected_roles(endpoint)
        if expected in ("public", "*"):
            continue
        for role, c in clients.items():
            data = {"csrf_token": tokens[role]} if method == "POST" else None
            r = c.open(path, method=method, data=data)
            if role == "admin" or role in expected:
                assert r.status_code != 403, (endpoint, method, role)
            else:
                assert r.status_code == 403, (endpoint, method, role, r.status_code)
                checked += 1
    assert checked >= 20


def test_post_without_csrf_token_fails(admin_app):
    c = logged_in(admin_app, "admin")
    for endpoint, method, path in admin_rules(admin_app):
        if method != "POST":
            continue
        r = c.post(path, data={})
        assert r.status_code in (400, 403), (endpoint, r.status_code)
        r = c.post(path, data={"csrf_token": "forged"})
        assert r.status_code in (400, 403), (endpoint, r.status_code)
    # The login form has its own token too.
    anon = admin_app.test_client()
    assert anon.post("/admin/login", data={"name": "root1", "password": PASSWORD}).status_code == 400


def test_nothing_changes_on_get(admin_app):
    c = logged_in(admin_app, "admin")
    db = runtime(admin_app).store.db
    c.get("/admin/shelters")  # first use seeds the sample shelters (a system import, audited)
    before = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    for _endpoint, method, path in admin_rules(admin_app):
        if method == "GET":
            c.get(path)
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == before
    assert "GET" not in admin_app.url_map._rules_by_endpoint["admin.logout"][0].methods


# --- FAQ ------------------------------------------------------------------------------------

GOOD_CSV = (
    "id,question,answer,category\r\n"
    "a-1,粗大ごみの出し方は？,粗大ごみは予約制です。,ごみ\r\n"
    "a-2,住民票はどこで取れますか？,区民課の窓口で取れます。,住民票\r\n"
).encode()


def test_faq_upload_errors_diff_publish_rollback_download(admin_app):
    c = logged_in(admin_app, "staff")
    db = runtime(admin_app).store.db
    v1 = c.get("/admin/faq")
    assert v1.status_code == 200
    first = core_store.published_faq_version(db)
    tok = page_csrf(c, "/admin/faq")
    bad = "id,question,answer\r\nx-1,,答え\r\nx-1,質問,答え\r\n".encode()
    import io

    r = c.post(
        "/admin/faq/upload",
        data={"csrf_token": tok, "file": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "2行目</b>・列「question」: 質問が空です。" in r.text and "3行目</b>・列「id」" in r.text
    assert core_store.published_faq_version(db) == first
    r = c.post(
        "/admin/faq/upload",
        data={"csrf_token": tok, "file": (io.BytesIO(GOOD_CSV), "good.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    diff_page = c.get(r.headers["Location"])
    assert "追加" in diff_page.text and "削除" in diff_page.text and "a-2" in diff_page.text
    new_version = int(r.headers["Location"].rstrip("/").split("/")[-1])
    assert core_store.published_faq_version(db) == first  # nothing published yet
    r = c.post(f"/admin/faq/versions/{new_version}/publish", data={"csrf_token": tok})
    assert r.status_code == 302 and core_store.published_faq_version(db) == new_version
    faq = runtime(admin_app).faq
    assert faq.wait_for(new_version, timeout=10)
    csv_body = c.get("/admin/faq/download.csv")
    assert csv_body.data.startswith(b"\xef\xbb\xbf") and b"a-2" in csv_body.data
    assert "attachment" in csv_body.headers["Content-Disposition"]
    r = c.post(f"/admin/faq/versions/{first}/rollback", data={"csrf_token": tok})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/faq/versions/{first}")
    assert core_store.published_faq_version(db) == new_version  # not without the confirmation
    r = c.post(f"/admin/faq/versions/{first}/rollback", data={"csrf_token": tok, "confirm": str(first)})
    assert core_store.published_faq_version(db) == first
    actions = [e["action"] for e in audit_store.entries(db, action_prefix="faq.")]
    assert {"faq.upload_rejected", "faq.upload", "faq.publish", "faq.rollback"} <= set(actions)


def test_faq_download_escapes_formulas(admin_app):
    db = runtime(admin_app).store.db
    entries = [{"id": "f-1", "question": '=HYPERLINK("http://evil")', "answer": "@SUM(A1)", "alternates": []}]
    core_store.create_faq_version(db, entries, "t", "t.csv", publish=True)
    c = logged_in(admin_app, "staff")
    body = c.get("/admin/faq/download.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "'@SUM" in body


def test_new_faq_entry_from_the_form(admin_app):
    c = logged_in(admin_app, "staff")
    form = c.get("/admin/faq/new?question=犬の登録はどこ？&alternates=犬の登録")
    assert "犬の登録はどこ？" in form.text
    r = c.post(
        "/admin/faq/new",
        data={
            "csrf_token": csrf_of(form.text),
            "id": "pet-001",
            "question": "犬の登録はどこ？",
            "alternates": "犬の登録\n狂犬病の注射",
            "answer": "生活衛生課で受け付けます。",
        },
    )
    assert r.status_code == 302
    assert "pet-001" in c.get(r.headers["Location"]).text
    r = c.post("/admin/faq/new", data={"csrf_token": csrf_of(form.text), "id": "", "question": "", "answer": ""})
    assert r.status_code == 400


# --- unanswered queue and dashboard -----------------------------------------------------------


def test_unanswered_grouped_ignored_for_good(admin_app):
    db = runtime(admin_app).store.db
    for q in ["ペットの犬の登録", "犬の登録をしたい", "犬の登録", "ペットの犬の登録", "花火大会はいつ"]:
        core_store.log_query(db, q, "fallback")
    qid = core_store.log_query(db, "ごみの日", "answer", faq_id="gomi-001")
    core_store.record_feedback(db, qid, "gomi-001", helpful=False)
    c = logged_in(admin_app, "staff")
    page = c.get("/admin/unanswered").text
    assert page.count("無視する") == 2  # the dog questions are one group
    assert "ごみの日" in page and "gomi-001" in page
    r = c.post("/admin/unanswered/ignore", data={"csrf_token": csrf_of(page), "query": ["花火大会はいつ"]})
    assert r.status_code == 302
    core_store.log_query(db, "花火大会はいつ", "fallback")  # asked again later: still hidden
    assert "花火大会" not in c.get("/admin/unanswered").text


def test_dashboard_renders_svg_charts_without_external_assets(admin_app):
    db = runtime(admin_app).store.db
    core_store.log_query(db, "a", "answer", faq_id="x")
    core_store.log_query(db, "b", "fallback")
    c = logged_in(admin_app, "staff")
    page = c.get("/admin/").text
    assert "<svg" in page and "回答なし" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


def test_users_page_creates_and_audits(admin_app):
    c = logged_in(admin_app, "admin")
    tok = page_csrf(c, "/admin/users")
    r = c.post("/admin/users", data={"csrf_token": tok, "name": "newop", "role": "operator", "password": "short"})
    assert r.status_code == 400
    r = c.post(
        "/admin/users", data={"csrf_token": tok, "name": "newop", "role": "operator", "password": PASSWORD + "x"}
    )
    assert r.status_code == 302
    assert "newop" in c.get("/admin/audit").text


# --- shelters ---------------------------------------------------------------------------------


def test_shelter_status_buttons_and_history(admin_app):
    pytest.importorskip("shelters.service")
    c = logged_in(admin_app, "operator")
    page = c.get("/admin/shelters")
    assert page.status_code == 200
    m = re.search(r'/admin/shelters/([^/"]+)/status', page.text)
    assert m, "no shelter listed"
    sid = m.group(1)
    r = c.post(
        f"/admin/shelters/{sid}/status", data={"csrf_token": csrf_of(page.text), "status": "open", "count": "12"}
    )
    assert r.status_code == 302
    detail = c.get(f"/admin/shelters/{sid}").text
    assert "開設" in detail and "oper1" in detail
    r = c.post(f"/admin/shelters/{sid}/status", data={"csrf_token": csrf_of(page.text), "status": "bogus"})
    assert r.status_code == 302
    assert c.get(f"/admin/shelters/{sid}", follow_redirects=False).status_code == 200


# --- alerts -----------------------------------------------------------------------------------


def test_alert_compose_approve_send_and_self_approval_refused(admin_app):
    service = pytest.importorskip("alerts.service")
    from store import residents as resident_store

    db = runtime(admin_app).store.db
    resident_store.bulk_add_residents(
        db, [{"user_id": f"U{i:032x}", "lang": "en" if i % 3 == 0 else "ja"} for i in range(30)]
    )
    op = logged_in(admin_app, "operator")
    page = op.get("/admin/alerts/new?template=drill")
    assert page.status_code == 200 and "訓練として作成" in page.text and "本番として作成" not in page.text
    tok = csrf_of(page.text)
    r = op.post(
        "/admin/alerts",
        data={"csrf_token": tok, "template": "drill", "f_scenario": "総合防災訓練を行います。", "kind": "actual"},
    )
    assert r.status_code == 400  # the drill template is never actual
    r = op.post(
        "/admin/alerts",
        data={"csrf_token": tok, "template": "drill", "f_scenario": "総合防災訓練を行います。", "kind": "exercise"},
    )
    assert r.status_code == 302, r.text
    alert_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    detail = op.get(r.headers["Location"]).text
    assert "訓練" in detail and 'class="banner exercise"' in detail and "30</b> 人" in detail
    assert "英語" in detail  # one preview bubble group per language, named in Japanese for staff
    # The approver who wrote a draft cannot approve it: the page shows the service's refusal.
    own = service.create_alert(
        db, by="appr1", headline="臨時のお知らせ", body="本日は窓口を18時まで開けます。", status="actual"
    )
    ap = logged_in(admin_app, "approver")
    r = ap.post(f"/admin/alerts/{own}/approve", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 409 and "作成した本人は承認できません" in r.text
    queue = ap.get("/admin/approvals").text
    assert f"#{alert_id}" in queue and "あなたが作成した下書き" in queue
    r = ap.post(f"/admin/alerts/{alert_id}/approve", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 302
    r = ap.post(f"/admin/alerts/{alert_id}/send", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 302
    st = ap.get(f"/admin/alerts/{alert_id}/status.json").get_json()
    assert st["total"] == 30 and st["sent"] + st["pending"] == 30
    r = ap.post(f"/admin/alerts/{alert_id}/send", data={"csrf_token": page_csrf(ap)})
    assert r.status_code == 409  # never sent twice
