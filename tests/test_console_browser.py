"""The console in headless Chromium under its Content-Security-Policy (no inline script runs
unless the template marks it with the response's nonce), and the shelter status form on a phone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from devtools.procs import free_port, start_procfile, stop
from devtools.stack import CHROMIUM, SHOTS, lone_web_env
from tests.conftest import PASSWORD, password_hash

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
USERS = {"oper1": "operator", "appr1": "approver", "root1": "admin"}
TEMPLATES = ROOT / "admin" / "templates" / "admin"

if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (bash scripts/ensure-chromium.sh)", allow_module_level=True)


def test_every_inline_script_carries_the_nonce_and_no_template_uses_inline_handlers():
    """A template that adds an unmarked <script> would silently stop working under the CSP."""
    for path in TEMPLATES.glob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html, re.I):
            assert 'nonce="{{ csp_nonce }}"' in tag or "src=" in tag, f"{path.name}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"{path.name} has an inline event handler"
        assert "javascript:" not in html.lower(), path.name


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from alerts import service
    from store import Store
    from store import admin as admin_store

    tmp = tmp_path_factory.mktemp("console")
    db_url = f"sqlite:///{tmp / 'console.db'}"
    store = Store(db_url)
    pw_hash = password_hash(PASSWORD)
    for name, role in USERS.items():
        admin_store.create_user(store.db, name, role, pw_hash)
    alert_id = service.create_alert(store.db, by="oper1", headline="断水のお知らせ", body="午後は断水します")
    service.approve(store.db, alert_id, "appr1")
    store.close_thread_connection()
    port = free_port()
    # MADOGUCHI_DEV: plain-HTTP cookies for the browser on localhost.
    env = lone_web_env(port, db_url, SECRET_KEY="console-key", MADOGUCHI_DEV="1")
    web = start_procfile("web", env, tmp / "web.log", wait_url=f"http://127.0.0.1:{port}/healthz")
    yield {"web": f"http://localhost:{port}", "alert_id": alert_id}
    stop(web)


def page_for(browser, stack, user, phone=False):
    size = {"width": 390, "height": 844} if phone else {"width": 1200, "height": 900}
    ctx = browser.new_context(viewport=size, locale="ja-JP")
    ctx.set_default_timeout(15000)
    page = ctx.new_page()
    page.csp_errors = []
    page.on(
        "console",
        lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{stack['web']}/admin/login")
    page.fill("#name", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack['web']}/admin/")
    return page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_every_console_page_runs_under_the_csp_without_violations(browser, stack):
    pages = {
        "root1": ["/admin/", "/admin/users", "/admin/audit", "/admin/account", "/admin/faq", "/admin/unanswered"],
        "oper1": ["/admin/shelters", "/admin/alerts", f"/admin/alerts/{stack['alert_id']}"],
        "appr1": ["/admin/approvals"],
    }
    for user, paths in pages.items():
        page = page_for(browser, stack, user)
        for path in paths:
            r = page.goto(stack["web"] + path)
            assert r.status == 200, path
            csp = r.headers["content-security-policy"]
            assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], csp
            assert r.headers["x-content-type-options"] == "nosniff"
        assert page.csp_errors == [], page.csp_errors


def test_composer_preview_and_progress_scripts_still_run(browser, stack):
    page = page_for(browser, stack, "oper1")
    page.goto(f"{stack['web']}/admin/alerts/new")
    page.fill("[data-field=headline]", "給水所のお知らせ")
    page.fill("[data-field=body]", "みどり小学校で給水します")
    page.wait_for_function("document.getElementById('live-preview').textContent.includes('みどり小学校で給水')")
    shot(page, "console_csp_composer")
    # The progress script polls the status JSON (fetch is same-origin: connect-src 'self').
    with page.expect_request(re.compile(r"/status\.json$")):
        page.goto(f"{stack['web']}/admin/alerts/{stack['alert_id']}")
    assert page.csp_errors == [], page.csp_errors
    # An injected inline script (as XSS would add it) does not run; with the page's nonce it would.
    inject = (
        "nonce => { const s = document.createElement('script'); if (nonce) s.nonce = nonce;"
        " s.textContent = 'window.__ran = (window.__ran || 0) + 1'; document.body.appendChild(s); }"
    )
    page.evaluate(inject, None)
    assert page.evaluate("window.__ran") is None
    page.evaluate(inject, page.evaluate("document.querySelector('script[nonce]').nonce"))
    assert page.evaluate("window.__ran") == 1


def test_head_count_typed_before_a_status_button_is_kept_and_enter_keeps_the_status(browser, stack):
    page = page_for(browser, stack, "oper1", phone=True)
    page.goto(f"{stack['web']}/admin/shelters")
    card = page.locator("section.card").first
    name = card.locator("h2 a").inner_text()
    sid = card.locator("input[name=count]").get_attribute("id").removeprefix("count-")
    card.locator("input[name=count]").fill("４２")  # full-width digits from a Japanese keyboard
    card.locator("button.big:has-text('混雑')").click()
    page.wait_for_selector(".flash")
    assert name in page.inner_text(".flash") and "混雑" in page.inner_text(".flash")
    shelter = _public(stack, sid)
    assert (shelter["status"], shelter["head_count"]) == ("crowded", 42)
    # Enter in the count box saves the count only: the status stays 混雑 (it used to become 開設).
    card = page.locator(f"#count-{sid}").locator("xpath=ancestor::form")
    page.fill(f"#count-{sid}", "57")
    page.press(f"#count-{sid}", "Enter")
    page.wait_for_selector(".flash")
    shelter = _public(stack, sid)
    assert (shelter["status"], shelter["head_count"]) == ("crowded", 57)
    page.locator(f"#count-{sid}").locator("xpath=ancestor::section").screenshot(path=str(SHOTS / "shelter_card.png"))
    shot(page, "shelters_phone_count")
    # Nonsense is refused with a clear message and changes nothing.
    for bad in ("12345678901234567890", "-3", "abc", "1e3"):
        page.fill(f"#count-{sid}", bad)
        page.locator(f"#count-{sid}").locator("xpath=ancestor::form").locator("button.big:has-text('満員')").click()
        page.wait_for_selector(".flash")
        assert "人数は0から100,000までの数字で入力してください" in page.inner_text(".flash.error"), bad
    shelter = _public(stack, sid)
    assert (shelter["status"], shelter["head_count"]) == ("crowded", 57)
    shot(page, "shelters_phone_count_error")


def _public(stack, sid):
    rows = requests.get(f"{stack['web']}/shelters.json", timeout=10).json()["shelters"]
    return next(r for r in rows if r["id"] == sid)
