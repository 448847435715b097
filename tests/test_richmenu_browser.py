"""The rich menu end to end: gunicorn + the delivery worker + linesim, the chat page in Chromium.

A resident sees their language's menu under the chat; an approved 警戒レベル4 alert for their
area turns it into the disaster menu (and not their neighbour's in another area); the
cancellation turns it back. Screenshots: richmenu_*.png (docs/screenshots with MADOGUCHI_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devtools.stack import CHROMIUM, CHROMIUM_ARGS, SHOTS, running_stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
SECRET, TOKEN = "menu-secret", "menu-token"
A = "U" + "a1" * 16  # みどり一丁目, English
B = "U" + "b2" * 16  # 若葉一丁目, Japanese

if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (bash scripts/ensure-chromium.sh)", allow_module_level=True)


def _flask(env: dict[str, str], *args: str) -> str:
    full = {**os.environ, **env}
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webhook", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        input="",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _menu_of(sim: str, user: str) -> dict:
    return requests.get(f"{sim}/_emulator/richmenu/{user}", timeout=5).json()


def _wait_menu(sim: str, user: str, chat_bar: str, seconds: float = 30) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        data = _menu_of(sim, user)
        if data.get("menu") and data["menu"]["chatBarText"] == chat_bar:
            return data
        time.sleep(0.25)
    raise AssertionError(f"{chat_bar!r} not shown in time: {_menu_of(sim, user)}")


def test_disaster_menu_follows_the_alert_for_the_area_in_the_simulator(tmp_path):
    from playwright.sync_api import sync_playwright

    from store import Store
    from store import residents as resident_store
    from tests.conftest import create_staff

    db_url = f"sqlite:///{tmp_path / 'menu.db'}"
    store = Store(db_url)
    for name, role in (("oper1", "operator"), ("appr1", "approver")):
        create_staff(store.db, name, role)
    resident_store.bulk_add_residents(
        store.db,
        [{"user_id": A, "area": "midori-1", "lang": "en"}, {"user_id": B, "area": "wakaba-1", "lang": "ja"}],
    )
    store.close_thread_connection()
    with running_stack(
        tmp_path, SECRET, TOKEN, db_url, ("web", "worker", "answer"), SECRET_KEY="menu-key", WEB_CONCURRENCY="1"
    ) as urls:
        sim, env = urls["sim"], urls["env"]
        for user, lang in ((A, "en"), (B, "ja")):
            requests.post(f"{sim}/_emulator/users", json={"userId": user, "language": lang}, timeout=5)
        assert "作成 16" in _flask(env, "richmenu", "sync")
        _wait_menu(sim, A, "Menu")
        assert _menu_of(sim, B)["menu"]["chatBarText"] == "メニュー" and not _menu_of(sim, B)["linked"]

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 400, "height": 820})
            page.add_init_script(f"localStorage.setItem('linesim.user', '{A}')")
            page.goto(sim + "/")
            bar = page.locator("#richmenu-bar")
            bar.wait_for(state="visible", timeout=10000)
            assert "Menu" in bar.inner_text()
            bar.click()
            page.locator("[data-testid=richmenu-area-5]").click()  # Settings
            page.locator(".row.bot").last.wait_for(timeout=10000)
            page.screenshot(path=str(SHOTS / "richmenu_normal_en.png"))

            alert_id = (
                _flask(
                    env,
                    *("alert", "create", "--template", "evac_level4", "--field", "areas=みどり一丁目"),
                    *("--field", "hazard=洪水", "--area", "midori-1", "--by", "oper1"),
                )
                .strip()
                .splitlines()[-1]
            )
            _flask(env, "alert", "approve", alert_id, "--by", "appr1")
            _flask(env, "alert", "send", alert_id)
            data = _wait_menu(sim, A, "Disaster menu")
            assert data["menu"]["selected"] is True
            assert not _menu_of(sim, B)["linked"]  # another area keeps its normal menu
            page.locator("#richmenu-panel img").wait_for(state="visible", timeout=10000)
            page.wait_for_function("document.querySelector('#richmenu-bar').textContent.includes('Disaster menu')")
            page.screenshot(path=str(SHOTS / "richmenu_disaster_en.png"))
            page.locator("[data-testid=richmenu-area-0]").click()  # Nearest shelter → location sender
            assert page.locator("#loc-modal.open").is_visible()
            browser.close()

        confirm = ["--yes"] if "--yes" in _flask(env, "alert", "cancel", "--help") else []
        out = _flask(env, "alert", "cancel", alert_id, "--by", "oper1", *confirm)
        cancel_id = out.strip().splitlines()[-1]
        status = _flask(env, "alert", "status", cancel_id, "--json")
        if '"draft"' in status:  # a cancellation that needs a second person
            _flask(env, "alert", "approve", cancel_id, "--by", "appr1")
        if '"sent"' not in status:
            _flask(env, "alert", "send", cancel_id)
        _wait_menu(sim, A, "Menu")
