"""Console hardening: login backoff per account and per address (atomic in the database, across
processes), failed logins counted instead of logged one by one, the client address behind a
trusted proxy."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.runtime import runtime
from common import security
from devtools.procs import free_port, start_procfile, stop
from shelters import service
from store import Store
from store import admin as admin_store
from store import audit as audit_store
from tests.conftest import PASSWORD, ROOT, create_accounts, create_staff, csrf_of, db_of, logged_in, login, page_csrf

WRONG = "wrong-password-123"


def _throttled_for(response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["Retry-After"])


# --- backoff, per account ----------------------------------------------------------------------


def test_backoff_doubles_and_waiting_attempts_do_not_count(admin_app, clock):
    c = admin_app.test_client()
    for _ in range(security.ACCOUNT_BACKOFF.free):
        assert login(c, "staff1", WRONG).status_code == 401
    assert _throttled_for(login(c, "staff1", WRONG)) == 2
    clock.t += 2
    assert login(c, "staff1", WRONG).status_code == 401  # counted: the next wait doubles
    assert _throttled_for(login(c, "staff1", PASSWORD)) == 4
    # A trickle while waiting is refused but not counted: it neither extends nor doubles the wait.
    for _ in range(20):
        clock.t += 0.15
        assert login(c, "staff1", WRONG).status_code == 429
    clock.t += 1.1
    assert login(c, "staff1", PASSWORD).status_code == 302
    # A success starts the account again from zero.
    for _ in range(security.ACCOUNT_BACKOFF.free):
        assert login(c, "staff1", WRONG).status_code == 401


def test_backoff_is_capped_and_forgotten_after_a_quiet_hour(admin_app, clock):
    c = admin_app.test_client()
    waits = []
    for _ in range(security.ACCOUNT_BACKOFF.free + 12):
        r = login(c, "staff1", WRONG)
        if r.status_code == 429:
            waits.append(int(r.headers["Retry-After"]))
            clock.t += waits[-1]
            assert login(c, "staff1", WRONG).status_code == 401
    assert waits[:5] == [2, 4, 8, 16, 32] and max(waits) == security.ACCOUNT_BACKOFF.cap
    clock.t += security.ACCOUNT_BACKOFF.forget_after + 1
    assert login(c, "staff1", PASSWORD).status_code == 302


def test_unknown_names_are_throttled_like_accounts_and_case_does_not_matter(admin_app):
    c = admin_app.test_client()
    for name in ("ghost", "Ghost", "GHOST", " ghost", "ghost "):
        assert login(c, name, WRONG).status_code == 401
    assert login(c, "gHoSt", WRONG).status_code == 429
    for name in ("Staff1", "STAFF1", "staff1", "ｓｔａｆｆ１", "staff1"):  # full-width is the same name
        assert login(c, name, WRONG).status_code == 401
    assert login(c, "STAFF1", PASSWORD).status_code == 429
    assert login(admin_app.test_client(), "ＯＰＥＲ１", PASSWORD).status_code == 302


# --- per address: generous, shared by an office --------------------------------------------------


@pytest.mark.slow
def test_other_accounts_failures_do_not_keep_a_clerk_out_on_a_shared_address(admin_app, clock):
    c = admin_app.test_client()
    # 50 wrong passwords for one account (most of them refused while it waits) …
    for _ in range(50):
        login(c, "staff1", WRONG)
        clock.t += 0.5
    # … and 50 guessed names, one attempt each, all from the same address.
    for i in range(50):
        assert login(c, f"guess{i}", WRONG).status_code == 401
    assert login(admin_app.test_client(), "oper1").status_code == 302
    assert login(admin_app.test_client(), "appr1").status_code == 302


@pytest.mark.slow
def test_one_address_spraying_names_waits_past_the_generous_limit(admin_app, clock):
    c = admin_app.test_client()
    free = security.IP_BACKOFF.free
    for i in range(free):
        assert login(c, f"guess{i}", WRONG).status_code == 401
    assert _throttled_for(login(c, "oper1")) == 2
    clock.t += 2
    assert login(c, "oper1").status_code == 302


# --- atomic across threads and processes ----------------------------------------------------------


def test_thirty_attempts_in_flight_check_only_the_allowed_passwords(admin_app):
    """30 threads, each with its own connection, claim at the same instant: only `free` get through."""
    store = runtime(admin_app).store
    barrier = threading.Barrier(30)
    checked = []
    real_verify = security.verify_password

    def counting_verify(password, stored):
        checked.append(1)
        return real_verify(password, stored)

    def attempt(i):
        db = store.db  # this thread's own connection
        barrier.wait()
        try:
            security.authenticate(db, "staff1", WRONG, "198.51.100.7", now=1000.0, salt="k")
        except security.LoginRefused as exc:
            return exc.throttled
        finally:
            store.close_thread_connection()
        return None

    security.verify_password = counting_verify
    try:
        with ThreadPoolExecutor(30) as pool:
            results = list(pool.map(attempt, range(30)))
    finally:
        security.verify_password = real_verify
    assert results.count(False) == security.ACCOUNT_BACKOFF.free == len(checked)
    assert results.count(True) == 30 - security.ACCOUNT_BACKOFF.free


@pytest.mark.both_engines
def test_counters_are_atomic_on_both_engines(database_url):
    store = Store(database_url)
    store.ensure_ready()
    policy = security.ACCOUNT_BACKOFF
    barrier = threading.Barrier(30)

    def claim(_):
        db = store.db
        barrier.wait()
        try:
            return admin_store.claim_login_attempt(db, "account:x", 1000.0, policy)
        finally:
            store.close_thread_connection()

    try:
        with ThreadPoolExecutor(30) as pool:
            waits = list(pool.map(claim, range(30)))
        assert waits.count(0.0) == policy.free and set(waits) == {0.0, policy.base}
        db = store.db
        # Waiting attempts were not counted; the wait is over at 1002 and the next failure doubles it.
        assert admin_store.claim_login_attempt(db, "account:x", 1001.0, policy) == 1.0
        assert admin_store.claim_login_attempt(db, "account:x", 1002.0, policy) == 0.0
        assert admin_store.claim_login_attempt(db, "account:x", 1002.5, policy) == 3.5
        admin_store.forget_login_failures(db, "account:x")
        assert admin_store.claim_login_attempt(db, "account:x", 1003.0, policy) == 0.0
        audit_store.count_login_failure(db, "staff1", "web 192.0.2.1", throttled=False, now=1000.0)
        audit_store.count_login_failure(db, "staff1", "web 192.0.2.1", throttled=True, now=1001.0)
        [row] = audit_store.login_failures(db)
        assert (row["failed"], row["throttled"], row["first_at"], row["last_at"]) == (1, 1, 1000.0, 1001.0)
    finally:
        store.close()


@pytest.mark.e2e
def test_thirty_logins_in_flight_across_gunicorn_workers(tmp_path):
    """Three gunicorn processes share the counters through the database (no per-process memory)."""
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'race.db'}"
    from webhook import create_app

    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "k", "LINE_CHANNEL_SECRET": "s",
                      "LINE_CHANNEL_ACCESS_TOKEN": "t", "TESTING": True})  # fmt: skip
    create_staff(db_of(app), "staff1", "staff")
    env = {
        "PORT": str(port),
        "DATABASE_URL": db_url,
        "SECRET_KEY": "k",
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "MADOGUCHI_SEMANTIC": "0",
        "WEB_CONCURRENCY": "3",
        "GUNICORN_THREADS": "10",
        "TRUSTED_PROXIES": "1",
    }
    base = f"http://127.0.0.1:{port}"
    web = start_procfile("web", env, tmp_path / "web.log", wait_url=f"{base}/healthz")
    try:
        sessions = []
        for _ in range(30):
            s = requests.Session()
            page = s.get(f"{base}/admin/login", timeout=30)
            s.csrf = csrf_of(page.text)
            # The session cookie is Secure (production settings): hand it over plain HTTP ourselves.
            s.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
            sessions.append(s)
        barrier = threading.Barrier(30)

        def attempt(s, password=WRONG, ip="203.0.113.9"):
            barrier.wait()
            return s.post(
                f"{base}/admin/login",
                data={"name": "staff1", "password": password, "csrf_token": s.csrf},
                headers={"X-Forwarded-For": ip},
                allow_redirects=False,
                timeout=60,
            ).status_code

        with ThreadPoolExecutor(30) as pool:
            codes = list(pool.map(attempt, sessions))
        assert codes.count(401) == security.ACCOUNT_BACKOFF.free, codes
        assert codes.count(429) == 30 - security.ACCOUNT_BACKOFF.free
        # Behind the trusted proxy each clerk has their own address: a guesser spraying names from
        # one address is throttled there, while another address logs in at once.
        s = sessions[0]

        def post(name, pw, ip):
            return s.post(
                f"{base}/admin/login",
                data={"name": name, "password": pw, "csrf_token": s.csrf},
                headers={"X-Forwarded-For": ip},
                allow_redirects=False,
                timeout=60,
            ).status_code

        assert {post(f"g{i}", WRONG, "192.0.2.66") for i in range(security.IP_BACKOFF.free)} == {401}
        assert post("g-extra", WRONG, "192.0.2.66") == 429
        # A forged left-most X-Forwarded-For value does not escape: the proxy's own entry counts.
        assert post("g-extra2", WRONG, "10.9.9.9, 192.0.2.66") == 429
    finally:
        stop(web)
    counts = audit_store.login_failures(db_of(app))
    by_actor = {(r["actor"], r["source"]): (r["failed"], r["throttled"]) for r in counts}
    assert by_actor[("staff1", "web 203.0.113.9")] == (5, 25)
    assert by_actor[(audit_store.UNKNOWN_ACCOUNT, "web 192.0.2.66")] == (security.IP_BACKOFF.free, 2)


# --- the audit log: counters, never what was typed -----------------------------------------------


@pytest.mark.slow
def test_failed_logins_are_counted_not_appended_and_typed_names_are_not_kept(admin_app, clock):
    db = db_of(admin_app)
    before = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    c = admin_app.test_client()
    secret_typed_as_name = "My-Secret-Passw0rd!"
    for i in range(60):
        login(c, secret_typed_as_name if i == 0 else f"guessed-name-{i}", WRONG)
    for _ in range(security.ACCOUNT_BACKOFF.free + 3):
        login(c, "staff1", WRONG)
    assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == before
    rows = {r["actor"]: r for r in audit_store.login_failures(db)}
    assert set(rows) == {audit_store.UNKNOWN_ACCOUNT, "staff1"}
    assert rows[audit_store.UNKNOWN_ACCOUNT]["failed"] == 60
    assert (rows["staff1"]["failed"], rows["staff1"]["throttled"]) == (security.ACCOUNT_BACKOFF.free, 3)
    dump = "\n".join(db.iterdump())
    assert secret_typed_as_name not in dump and "guessed-name-17" not in dump
    # A new hour starts a new counter row.
    clock.t += audit_store.LOGIN_FAILURE_WINDOW
    login(c, "nobody", WRONG)
    assert len(audit_store.login_failures(db)) == 3
    # The admin sees the counters on the audit page.
    admin = admin_app.test_client()
    assert login(admin, "root1").status_code == 302
    page = admin.get("/admin/audit").text
    assert "ログイン失敗" in page and "不明なアカウント" in page and ">60<" in page


# --- look-alike names: ASCII accounts, and --by checked against them ------------------------------

CYRILLIC_OP1 = "\u043e\u04401"  # "ор1": Cyrillic о and р, looks like op1


def test_user_names_are_ascii_and_case_folded():
    assert security.clean_username(" Op1 ") == "op1"
    assert security.clean_username("ｔａｎａｋａ") == "tanaka"  # full-width is the same name
    assert security.clean_username("sato.k-2_x") == "sato.k-2_x"
    for bad in (CYRILLIC_OP1, "田中", "a b", "-lead", "", "x" * 65, "tanaka\u200b", "op\n1"):
        with pytest.raises(security.NameRejected):
            security.clean_username(bad)


def test_console_and_cli_refuse_look_alike_account_names(admin_app, runner):
    c = logged_in(admin_app, "admin")
    csrf = page_csrf(c, "/admin/users")
    form = {"role": "approver", "password": PASSWORD, "csrf_token": csrf}
    r = c.post("/admin/users", data={**form, "name": CYRILLIC_OP1})
    assert r.status_code == 400 and "半角の英数字" in r.text
    assert admin_store.find_user(db_of(admin_app), CYRILLIC_OP1) is None
    assert c.post("/admin/users", data={**form, "name": "Suzuki"}).status_code == 302
    assert admin_store.get_user(db_of(admin_app), "suzuki").role == "approver"
    assert c.post("/admin/users", data={**form, "name": "SUZUKI"}).status_code == 400  # the same name
    r = runner.invoke(args=["users", "create", CYRILLIC_OP1, "--role", "approver"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code != 0 and "半角の英数字" in r.output
    r = runner.invoke(args=["users", "create", "cli", "--role", "approver"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code != 0 and "予約" in r.output


def _create_alert(runner, by):
    args = ["alert", "create", "--headline", "断水のお知らせ", "--body", "午後は断水します", "--by", by]
    return runner.invoke(args=args)


def test_by_before_any_account_exists_is_a_name_but_approval_needs_an_approver(app, runner):
    out = _create_alert(runner, "op-a")  # a fresh CLI-only install: the contract's own call
    assert out.exit_code == 0, out.output
    alert_id = out.output.strip().splitlines()[-1]
    refused = runner.invoke(args=["alert", "approve", alert_id, "--by", "suzuki"])
    assert refused.exit_code != 0 and "そのアカウントはありません" in refused.output
    assert "users create suzuki --role approver" in refused.output
    refused = runner.invoke(args=["alert", "approve", alert_id, "--by", CYRILLIC_OP1])
    assert refused.exit_code != 0 and "半角の英数字" in refused.output
    assert _create_alert(runner, CYRILLIC_OP1).exit_code != 0
    create_accounts(app, suzuki="approver")
    assert runner.invoke(args=["alert", "approve", alert_id, "--by", "Suzuki"]).exit_code == 0


def test_by_must_be_an_account_with_the_role_once_accounts_exist(app, runner):
    create_accounts(app, op1="operator", ap1="approver", staff1="staff", boss="admin", gone="approver")
    admin_store.update_user(db_of(app), "gone", disabled=True)
    refused = _create_alert(runner, "op-a")
    assert refused.exit_code != 0 and "そのアカウントはありません" in refused.output
    refused = _create_alert(runner, "staff1")
    assert refused.exit_code != 0 and "職員（FAQ）のアカウントではこの操作はできません" in refused.output
    out = _create_alert(runner, "OP1")
    assert out.exit_code == 0, out.output
    alert_id = out.output.strip().splitlines()[-1]
    for who, reason in (
        ("op1", "運用担当"),
        ("gone", "無効"),
        (CYRILLIC_OP1, "半角の英数字"),
        ("nobody", "ありません"),
    ):
        refused = runner.invoke(args=["alert", "approve", alert_id, "--by", who])
        assert refused.exit_code != 0 and reason in refused.output, (who, refused.output)
    assert runner.invoke(args=["alert", "approve", alert_id, "--by", "ap1"]).exit_code == 0
    # The same rule for every command that names who acts.
    refused = runner.invoke(args=["shelters", "status", "E131999002601", "open", "--by", "ap1"])
    assert refused.exit_code != 0 and "承認者のアカウントではこの操作はできません" in refused.output
    assert runner.invoke(args=["shelters", "status", "E131999002601", "open", "--by", "boss"]).exit_code == 0
    faq = str(ROOT / "faq" / "data" / "sample_faq.csv")
    refused = runner.invoke(args=["faq", "publish", faq, "--by", "op1"])
    assert refused.exit_code != 0 and "運用担当" in refused.output
    assert runner.invoke(args=["faq", "publish", faq, "--by", "staff1"]).exit_code == 0
    assert runner.invoke(args=["faq", "publish", faq]).exit_code == 0  # "cli": someone at the server


# --- redirects stay on the site; bad counts are refused with a message ---------------------------

SHELTER = "E131999002601"


def _status_post(c, data):
    base = {"csrf_token": page_csrf(c, "/admin/shelters"), "status": "open"}
    return c.post(f"/admin/shelters/{SHELTER}/status", data={**base, **data})


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/",
        "//evil.example/admin/",
        "/\\evil.example/",
        "/admin/\\\\evil.example",
        "/admin/\t/evil",
        "javascript:alert(1)",
        "/shelters.json",
        "",
    ],
)
def test_shelter_form_redirects_only_to_console_paths(admin_app, back):
    c = logged_in(admin_app, "operator")
    for count in ("x", "12"):  # the error path and the success path
        r = _status_post(c, {"back": back, "count": count})
        assert r.status_code == 302 and r.headers["Location"] == "/admin/shelters", (back, r.headers["Location"])
    r = _status_post(c, {"back": f"/admin/shelters/{SHELTER}", "count": ""})
    assert r.headers["Location"] == f"/admin/shelters/{SHELTER}"


def test_a_twenty_digit_head_count_is_refused_plainly_in_the_form_and_the_cli(admin_app, runner):
    c = logged_in(admin_app, "operator")
    for bad in ("12345678901234567890", "100001", "-1", "1.5", "1e3", "٣", "NaN"):
        r = _status_post(c, {"count": bad, "back": "/admin/shelters"})
        assert r.status_code == 302, bad
        page = c.get("/admin/shelters").text
        assert "人数は0から100,000までの数字で入力してください" in page, bad
    assert service.get_shelter(db_of(admin_app), SHELTER)["head_count"] is None  # nothing was recorded
    for good, stored in (("１２０", 120), ("1,200", 1200), (" 7 ", 7)):
        _status_post(c, {"count": good})
        assert service.get_shelter(db_of(admin_app), SHELTER)["head_count"] == stored, good
    out = runner.invoke(
        args=["shelters", "status", SHELTER, "full", "--count", "12345678901234567890", "--by", "oper1"]
    )
    assert out.exit_code != 0 and "100000" in out.output and "Traceback" not in out.output


def test_console_responses_say_nosniff_even_when_no_route_matches(admin_app):
    c = admin_app.test_client()
    for path in ("/admin/login", "/admin/", "/admin/no-such-page", "/admin/alerts/1/status.json"):
        r = c.get(path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        script_src = r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        assert "unsafe-inline" not in script_src, path
    a, b = c.get("/admin/login"), c.get("/admin/login")
    assert a.headers["Content-Security-Policy"] != b.headers["Content-Security-Policy"]  # a nonce per response
