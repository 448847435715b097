"""Browser tests: Playwright drives Debian's chromium against gunicorn + the worker + linesim (real processes).

Screenshots of the main pages land in docs/screenshots/ (checked in, linked from the README).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from devtools.stack import CHROMIUM, SHOTS, running_stack
from tests.conftest import PASSWORD, password_hash

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SECRET, TOKEN = "browser-secret", "browser-token"
USERS = {"staff1": "staff", "oper1": "operator", "appr1": "approver", "root1": "admin"}
N_RESIDENTS = 1200

if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (bash scripts/ensure-chromium.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from store import Store
    from store import admin as admin_store
    from store import residents as resident_store

    tmp = tmp_path_factory.mktemp("browser")
    db_url = f"sqlite:///{tmp / 'console.db'}"
    store = Store(db_url)
    db = store.db
    pw_hash = password_hash(PASSWORD)
    for name, role in USERS.items():
        admin_store.create_user(db, name, role, pw_hash)
    langs = ["ja"] * 6 + ["en", "easy", "zh", "vi"]
    resident_store.bulk_add_residents(
        db, [{"user_id": f"U{i:032x}", "lang": langs[i % len(langs)], "area": None} for i in range(N_RESIDENTS)]
    )
    store.close_thread_connection()

    with running_stack(tmp, SECRET, TOKEN, db_url, ("web", "worker", "answer"), SECRET_KEY="browser-key") as urls:
        yield {**urls, "tmp": tmp}


def new_page(browser, phone: bool = False):
    if phone:
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, locale="ja-JP")
    else:
        ctx = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1, locale="ja-JP")
    ctx.set_default_timeout(15000)
    return ctx.new_page()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size <= 400_000, f"{name}.png is too large"


def login(page, stack, name: str, screenshot: str | None = None) -> None:
    page.goto(f"{stack['web']}/admin/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    if screenshot:
        shot(page, screenshot)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack['web']}/admin/")


def ask_bot(stack, user: str, text: str) -> str:
    """Send a text as `user` through the emulator and return everything the bot has sent them."""

    def inbox() -> list:
        return requests.get(f"{stack['sim']}/_emulator/messages", params={"to": user}, timeout=10).json()["messages"]

    before = len(inbox())
    r = requests.post(
        f"{stack['sim']}/_emulator/webhook",
        json={"userId": user, "event": {"type": "message", "message": {"type": "text", "text": text}}},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["status"] == 200, r.text
    # The webhook acknowledges first and answers from a background thread: wait for the reply.
    deadline = time.time() + 20
    msgs = inbox()
    while len(msgs) <= before and time.time() < deadline:
        time.sleep(0.05)
        msgs = inbox()
    return "\n".join(m["message"].get("text") or m["message"].get("altText", "") for m in msgs)


def good_csv() -> bytes:
    from dataclasses import replace

    from faq.csvio import dump_faq_csv, load_faq_csv
    from faq.model import FaqEntry

    entries = load_faq_csv(ROOT / "faq" / "data" / "sample_faq.csv")
    entries[0] = replace(entries[0], answer=entries[0].answer + "\n※2027年4月から手数料が変わります。")
    entries = entries[:-1] + [
        FaqEntry(
            id="drone-001",
            category="公園",
            question="公園でドローンを飛ばしてもいいですか？",
            alternates=("公園でドローン", "ドローンの飛行許可"),
            answer="区立公園ではドローンの飛行を禁止しています（公園管理課 ドローン係）。",
        )
    ]
    return dump_faq_csv(entries)


def test_faq_upload_errors_then_publish_and_the_bot_answers(browser, stack):
    page = new_page(browser)
    login(page, stack, "staff1", screenshot="login")
    before = ask_bot(stack, "U" + "1" * 32, "公園でドローンを飛ばしたい")
    assert "ドローン係" not in before
    page.goto(f"{stack['web']}/admin/faq")
    # Multi-line answers: Excel shows one row per record, the file has more lines.
    rows = ["id,question,answer,url"] + [f'x-{i},質問{i},"答え\r\n2行目\r\n3行目",' for i in range(1, 6)]
    rows += ["x-6,,答えだけ,", "x-1,質問,答え,htp//broken url"]
    broken = "\r\n".join(rows).encode()
    page.set_input_files("input[name=file]", {"name": "broken.csv", "mimeType": "text/csv", "buffer": broken})
    page.click("text=確認する")
    errors = page.locator("#csv-errors li").all_inner_texts()
    assert errors[0] == "7行目・列「question」: 質問が空です。"  # file line 17
    assert any(e.startswith("8行目・列「id」: ID「x-1」が重複") for e in errors)
    assert any(e.startswith("8行目・列「url」: URLが正しくありません") for e in errors)
    shot(page, "faq_errors")
    # The FAQ re-saved by Excel as 「CSV (コンマ区切り)」: translations became "?".
    page.goto(f"{stack['web']}/admin/faq")
    lossy = page.request.get(f"{stack['web']}/admin/faq/download.csv").body().decode("utf-8-sig")
    page.set_input_files(
        "input[name=file]",
        {"name": "excel.csv", "mimeType": "text/csv", "buffer": lossy.encode("cp932", errors="replace")},
    )
    page.click("text=確認する")
    first = page.locator("#csv-errors li").first.inner_text()
    assert "「?」に置き換わっています" in first and "CSV UTF-8 (コンマ区切り)" in first
    assert not first.startswith("1行目")  # about the whole file
    assert page.locator("#csv-errors li").count() == 30  # the rest behind 「ほか … 件を表示」
    shot(page, "faq_errors_cp932")
    page.goto(f"{stack['web']}/admin/faq")
    page.set_input_files("input[name=file]", {"name": "faq_new.csv", "mimeType": "text/csv", "buffer": good_csv()})
    page.click("text=確認する")
    page.wait_for_selector("#publish")
    assert "drone-001" in page.content()
    for kind in ("追加", "変更", "削除"):
        assert page.locator(f"h2:has-text('{kind}')").count() == 1, kind
    shot(page, "faq_diff")
    page.click("#publish")
    page.wait_for_selector(".flash")
    assert "公開しました" in page.inner_text(".flash")
    # The very first question after the publish is answered by it (two gunicorn workers).
    assert "ドローン係" in ask_bot(stack, "U" + "2" * 32, "公園でドローンを飛ばしたい")


def test_rollback_shows_the_diff_and_asks_first(browser, stack):
    page = new_page(browser)
    login(page, stack, "staff1")
    page.goto(f"{stack['web']}/admin/faq")
    page.locator("a:has-text('変更点を見て戻す')").first.click()
    page.wait_for_selector("#rollback")
    assert page.locator(".kpi:has-text('削除') b").inner_text() == "1"  # drone-001 would go
    assert "drone-001" in page.inner_text("body")
    page.click("#rollback")  # not confirmed: the browser keeps the form (required checkbox)
    assert page.locator("#rollback").count() == 1 and page.locator(".flash").count() == 0
    page.reload()  # (clears the browser's "check this box" bubble for the screenshot)
    page.check("#rollback-confirm")
    shot(page, "faq_rollback")
    page.click("#rollback")
    page.wait_for_selector(".flash")
    assert "ロールバックしました" in page.inner_text(".flash")
    assert "ドローン係" not in ask_bot(stack, "U" + "3" * 32, "公園でドローンを飛ばしたい")


def test_unanswered_and_dashboard(browser, stack):
    for i, q in enumerate(
        [
            "マンホールカードはどこでもらえますか",
            "マンホールカードがほしい",
            "マンホールカード配布場所",
            "区の花は何ですか",
            "区の木は何ですか",
        ]
    ):
        ask_bot(stack, f"U{i + 10:032d}", q)
    page = new_page(browser)
    login(page, stack, "staff1")
    page.goto(f"{stack['web']}/admin/unanswered")
    assert "マンホールカード" in page.inner_text("#unanswered")
    shot(page, "unanswered")
    page.locator("#unanswered a:has-text('FAQにする')").first.click()
    assert page.input_value("#question")
    # The same group as a phrasing of an existing FAQ instead.
    page.goto(f"{stack['web']}/admin/unanswered")
    row = page.locator("#unanswered tr", has_text="マンホールカード").first
    row.locator("a:has-text('既存のFAQの言い換えにする')").click()
    page.wait_for_selector("#add-alternates")
    assert page.locator("input[name=q]:checked").count() == 3
    page.check("input[name=faq_id][value=other]")
    page.select_option("#faq_other", "juminhyo-001")
    shot(page, "faq_alternate")
    page.click("#add-alternates")
    page.wait_for_selector("h2:has-text('変更')")
    assert "マンホールカードがほしい" in page.inner_text("body") and "言い換え" in page.inner_text("body")
    page.goto(f"{stack['web']}/admin/")
    assert page.locator("svg.chart").count() >= 2
    assert "JST" in page.inner_text("body") or page.locator("time").count() == 0
    shot(page, "dashboard")


def test_audit_log_reads_as_words(browser, stack):
    page = new_page(browser)
    login(page, stack, "root1")
    page.goto(f"{stack['web']}/admin/audit")
    body = page.inner_text("table")
    assert "FAQ 公開" in body and "JST" in body
    assert "faq.publish" not in body  # the code only under 記録そのもの (closed)
    shot(page, "audit")


def test_shelter_status_on_a_phone(browser, stack):
    page = new_page(browser, phone=True)
    login(page, stack, "oper1")
    page.goto(f"{stack['web']}/admin/shelters")
    card = page.locator("section.card").first
    name = card.locator("h2 a").inner_text()
    card.locator("input[name=count]").fill("42")
    card.locator("button:has-text('開設')").click()
    page.wait_for_selector(".flash")
    assert name in page.inner_text(".flash") and "開設" in page.inner_text(".flash")
    shot(page, "shelters_phone")
    public = requests.get(f"{stack['web']}/shelters.json", timeout=10).json()
    rows = public if isinstance(public, list) else public.get("shelters", public.get("features", []))
    assert any("open" in str(r) and name in str(r) for r in rows)


def test_alert_drafted_by_operator_approved_by_approver_reaches_everyone(browser, stack):
    op = new_page(browser)
    login(op, stack, "oper1")
    op.goto(f"{stack['web']}/admin/alerts/new?template=evac_level4")
    op.fill("#f_areas", "みどり一丁目・二丁目")
    op.select_option("#f_hazard", "flood")
    assert "みどり一丁目・二丁目" in op.inner_text("#live-preview")  # live preview while typing
    assert op.locator("#create-drill").is_visible() and op.locator("#create-actual").is_visible()
    shot(op, "alert_composer")
    op.click("#create-drill")
    op.wait_for_selector(".banner.exercise")
    assert op.inner_text("#recipient-count") == str(N_RESIDENTS)
    assert op.locator(".phone .bubble").count() >= 3  # ja, en, やさしい日本語 … one bubble group per language
    shot(op, "alert_preview")
    alert_url = op.url

    ap = new_page(browser)
    login(ap, stack, "appr1")
    ap.goto(f"{stack['web']}/admin/approvals")
    assert "避難指示" in ap.content()
    shot(ap, "approval_queue")
    ap.goto(alert_url)
    ap.click("#approve")
    ap.wait_for_selector("#send")
    ap.click("#send")
    from playwright.sync_api import expect

    expect(ap.locator("#progress-text")).to_contain_text("100%", timeout=60000)  # polled by the page's JS
    assert f"{N_RESIDENTS} / {N_RESIDENTS}" in ap.inner_text("#progress-text")
    shot(ap, "delivery_progress")
    counts = requests.get(f"{stack['sim']}/_emulator/delivery-counts", timeout=10).json()
    assert str(N_RESIDENTS) in str(counts) or counts


def _send_in_browser(ap, url):
    from playwright.sync_api import expect

    ap.goto(url)
    ap.click("#approve")
    ap.wait_for_selector("#send")
    ap.click("#send")
    expect(ap.locator("#progress-text")).to_contain_text("100%", timeout=90000)
    # One state on the page: the header says what the progress says.
    expect(ap.locator(".banner [data-state-label]")).to_have_text("配信済み", timeout=10000)
    assert ap.inner_text("#progress-state") == "配信済み"


def _sim_texts(stack) -> list[str]:
    msgs = requests.get(f"{stack['sim']}/_emulator/messages?limit=1000000", timeout=30).json()
    rows = msgs if isinstance(msgs, list) else msgs.get("messages", [])
    return [str((m.get("message") or {}).get("text", "")) for m in rows]


def test_cancel_needs_the_confirmation_and_lift_goes_through_approval(browser, stack):
    op = new_page(browser)
    login(op, stack, "oper1")
    op.goto(f"{stack['web']}/admin/alerts/new?template=evac_level4")
    op.fill("#f_areas", "みどり一丁目")
    op.select_option("#f_hazard", "flood")
    op.check("input[name=areas][value='midori-1']")
    op.click("#create-actual")
    op.wait_for_selector(".banner.actual")
    order_url = op.url
    ap = new_page(browser)
    login(ap, stack, "appr1")
    _send_in_browser(ap, order_url)

    # 取消: the button leads to a confirmation with the exact text and the count; やめる sends nothing.
    op.goto(order_url)
    assert "midori-1" not in op.inner_text("main") and "みどり一丁目" in op.inner_text("main")
    op.click("#cancel")
    op.wait_for_selector("#confirm-cancel")
    assert op.inner_text("#cancel-count") == str(N_RESIDENTS)
    bubbles = op.inner_text("main")
    assert "【取消】先ほどのお知らせ「【警戒レベル4】避難指示」は、誤って送信したものです" in bubbles
    assert "CANCELLED" in bubbles and "「解除」を使ってください" in bubbles
    shot(op, "alert_cancel_confirm")
    op.click("text=やめる")
    op.wait_for_url(order_url)
    assert not any(t.startswith("【取消】") for t in _sim_texts(stack))

    # 解除: a draft in every language, approved and sent by the approver.
    op.click("#lift")
    op.wait_for_selector(".banner.actual")
    lift_url = op.url
    main = op.inner_text("main")
    assert "解除：#" in main and "【解除】警戒レベル4「避難指示」を解除しました" in main and "まちがい" not in main
    assert "LIFTED" in main  # the English text is previewed too
    shot(op, "alert_lift_draft")
    ap.goto(f"{stack['web']}/admin/approvals")
    assert "解除：#" in ap.inner_text("main")
    _send_in_browser(ap, lift_url)
    op.goto(order_url)
    assert op.locator("#lifted").is_visible() and op.locator("#lift").count() == 0

    # The lift itself turns out to be a mistake: 取消 after the confirmation, by one person.
    op.goto(lift_url)
    op.click("#cancel")
    op.wait_for_selector("#confirm-cancel")
    assert op.inner_text("#cancel-count") == str(N_RESIDENTS)
    op.click("#confirm-cancel")
    op.wait_for_selector(".banner.actual")
    from playwright.sync_api import expect

    expect(op.locator("#progress-text")).to_contain_text("100%", timeout=90000)
    assert "取消：#" in op.inner_text("h1")
    op.goto(f"{stack['web']}/admin/alerts")
    listing = op.inner_text("main")
    assert "取消：#" in listing and "解除：#" in listing
    shot(op, "alert_list")
    assert sum(t.startswith("【取消】") for t in _sim_texts(stack)) == N_RESIDENTS
