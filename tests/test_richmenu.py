"""Rich menus: the menu file, the drawn images, sync against linesim, disaster-mode switching."""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
from PIL import Image

from alerts import service
from alerts.worker import run_worker
from bot.runtime import runtime
from richmenu import switcher
from richmenu.draw import contrast_ratio, render_menu, text_color
from richmenu.spec import LANGS, MAX_AREAS, MenuFileInvalid, load_menu_file, parse_menu_csv, tile_bounds
from store import residents as resident_store
from store import richmenu as menu_store
from tests.conftest import ROOT, TOKEN, post_events, postback_event

pytestmark = pytest.mark.both_engines

SAMPLE = ROOT / "data" / "richmenu.csv"

try:  # the images need Debian's fonts-noto-cjk and fonts-dejavu-core (make test installs them)
    from richmenu.draw import _font

    _font("ko", 20), _font("en", 20)
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"rich-menu fonts missing: {exc}", allow_module_level=True)
HEADER = "menu,row,col,span,action,value,color,ja,en\n"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


# --- the menu file --------------------------------------------------------------------------


def test_sample_menus_every_language_drawn_within_lines_limits():
    menus = load_menu_file(SAMPLE)
    assert set(menus) == {"normal", "disaster"}
    disaster_labels = {t.labels["ja"] for t in menus["disaster"].tiles}
    assert {"近くの避難所", "避難情報", "安否・連絡先", "設定"} <= disaster_labels
    for menu in menus.values():
        assert menu.size in ((2500, 1686), (2500, 843))
        for lang in LANGS:
            data = render_menu(menu, lang)
            assert len(data) < 1_000_000
            img = Image.open(io.BytesIO(data))
            assert img.size == menu.size and img.format == "PNG"
            for tile in menu.tiles:
                # WCAG AA for the label colour actually drawn on the tile colour.
                assert contrast_ratio(text_color(tile.color), _hex(tile.color)) >= 4.5, (tile.line, tile.color)
                b = tile_bounds(menu, tile)
                centre = img.convert("RGB").getpixel((b["x"] + 40, b["y"] + b["height"] // 2))
                assert centre == _hex(tile.color)  # the tile is painted where its tap area is
            assert 1 <= len(menu.chat_bar_text(lang)) <= 14


def test_location_tile_opens_lines_location_screen_not_a_quick_reply_action():
    from richmenu.spec import menu_request

    disaster = load_menu_file(SAMPLE)["disaster"]
    body = menu_request(disaster, "en", "x")
    actions = [a["action"] for a in body["areas"]]
    assert {"type": "uri", "label": "Nearest shelter", "uri": "https://line.me/R/nv/location/"} in actions
    say = next(a for a in actions if a["type"] == "postback")
    assert say["data"].startswith("a=say&t=") and say["displayText"] == say["label"]


def _tiles(n: int) -> str:
    return "".join(f"normal,{1 + i // 3},{1 + i % 3},1,say,設定,#1565c0,設定{i},Settings\n" for i in range(n))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (_tiles(6) + "normal,2,3,1,say,設定,#1565c0,重なり,x\n", "line 8, column col"),
        (
            _tiles(5) + "normal,2,3,1,say,設定,#1565c0,とても長いラベルでタイルに入りきらない文字数です,x\n",
            "line 7, column ja",
        ),
        (_tiles(5) + "normal,2,3,1,teleport,設定,#1565c0,設定,x\n", "line 7, column action: 知らない action"),
        (_tiles(5) + "normal,2,3,1,uri,javascript:alert(1),#1565c0,設定,x\n", "line 7, column value"),
        (_tiles(5) + "normal,2,3,1,say,設定,red,設定,x\n", "line 7, column color"),
        (_tiles(6) + "normal,,,,chatbar,,,とても長いチャットバーのテキストです,Menu\n", "line 8, column ja"),
        (_tiles(3) + "normal,3,1,1,say,設定,#1565c0,設定,x\n", "line 5, column row"),
    ],
)
def test_bad_menu_file_is_refused_with_line_and_column(body, needle):
    data = (HEADER + body + "disaster,1,1,1,location,,#c62828,近くの避難所,Nearest shelter\n").encode()
    with pytest.raises(MenuFileInvalid) as exc:
        parse_menu_csv(data)
    assert needle in str(exc.value)


def test_more_than_twenty_areas_is_refused():
    # A 2-row grid holds 6 tiles, so 21 areas can only come from an edited grid: the limit still holds.
    import richmenu.spec as spec

    rows = "".join(f"normal,1,1,1,say,設定,#1565c0,設定{i},x\n" for i in range(MAX_AREAS + 1))
    with pytest.raises(MenuFileInvalid) as exc:
        spec.parse_menu_csv((HEADER + rows).encode())
    assert f"line {MAX_AREAS + 2}, column menu" in str(exc.value)


def test_cp932_menu_file_as_excel_saves_it():
    text = (
        HEADER + "normal,1,1,3,say,設定,#1565c0,設定,Settings\ndisaster,1,1,3,location,,#c62828,近くの避難所,Shelter\n"
    )
    menus = parse_menu_csv(text.encode("cp932"))
    assert menus["normal"].tiles[0].labels["ja"] == "設定" and menus["normal"].size == (2500, 843)


# --- linesim's rich-menu limits -------------------------------------------------------------------


def _menu_body(**over):
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "t",
        "chatBarText": "メニュー",
        "areas": [
            {"bounds": {"x": 0, "y": 0, "width": 2500, "height": 843}, "action": {"type": "message", "text": "設定"}}
        ],
    }
    body.update(over)
    return body


def _png(w: int, h: int, noise: bool = False) -> bytes:
    img = Image.effect_noise((w, h), 120).convert("RGB") if noise else Image.new("RGB", (w, h), "white")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_linesim_enforces_documented_rich_menu_limits(emulator):
    url = emulator.base_url
    area = {"bounds": {"x": 0, "y": 0, "width": 100, "height": 100}, "action": {"type": "message", "text": "x"}}
    refused = [
        _menu_body(chatBarText="十五文字のチャットバーテキストです"),
        _menu_body(areas=[area] * 21),
        _menu_body(areas=[{"bounds": area["bounds"], "action": {"type": "location", "label": "現在地"}}]),
        _menu_body(size={"width": 2500, "height": 2000}),
        _menu_body(areas=[{"bounds": {"x": 2400, "y": 0, "width": 200, "height": 100}, "action": area["action"]}]),
    ]
    for body in refused:
        r = requests.post(f"{url}/v2/bot/richmenu", json=body, headers=AUTH)
        assert r.status_code == 400, body
    r = requests.post(f"{url}/v2/bot/richmenu", json=_menu_body(), headers=AUTH)
    rid = r.json()["richMenuId"]
    # The image must come before the menu is the default, match its size and stay under 1 MB.
    assert requests.post(f"{url}/v2/bot/user/all/richmenu/{rid}", headers=AUTH).status_code == 400
    png = {**AUTH, "Content-Type": "image/png"}
    assert requests.post(f"{url}/v2/bot/richmenu/{rid}/content", data=_png(2500, 1686), headers=png).status_code == 400
    big = _png(2500, 843, noise=True)
    assert len(big) > 1024 * 1024
    assert requests.post(f"{url}/v2/bot/richmenu/{rid}/content", data=big, headers=png).status_code == 400
    assert requests.post(f"{url}/v2/bot/richmenu/{rid}/content", data=_png(2500, 843), headers=png).status_code == 200
    assert requests.post(f"{url}/v2/bot/richmenu/{rid}/content", data=_png(2500, 843), headers=png).status_code == 400
    assert requests.post(f"{url}/v2/bot/user/all/richmenu/{rid}", headers=AUTH).status_code == 200


# --- sync ---------------------------------------------------------------------------------------


def _state(emulator):
    return requests.get(f"{emulator.base_url}/_emulator/richmenu-state").json()


def test_sync_twice_leaves_one_set_and_a_change_replaces_only_what_changed(runner, emulator, app, tmp_path):
    first = runner.invoke(args=["richmenu", "sync"])
    assert first.exit_code == 0, first.output
    n_menus = 2 * len(LANGS)
    state = _state(emulator)
    assert state["menus"] == n_menus and state["calls"].count("create") == n_menus
    assert state["calls"].count("upload") == n_menus
    # Every image is uploaded before the menu is made the default.
    assert state["calls"].index("default") > max(i for i, c in enumerate(state["calls"]) if c == "upload")
    with app.app_context():
        recorded = menu_store.menus(runtime(app).store.db)
    assert state["default"] == recorded["normal:ja"][0]

    again = runner.invoke(args=["richmenu", "sync"])
    assert again.exit_code == 0 and "作成 0 / そのまま 16 / 削除 0" in again.output
    assert _state(emulator)["calls"].count("create") == n_menus

    edited = SAMPLE.read_text(encoding="utf-8").replace(",Settings,", ",Preferences,")
    path = tmp_path / "menu.csv"
    path.write_text(edited, encoding="utf-8")
    third = runner.invoke(args=["richmenu", "sync", "--file", str(path)])
    assert third.exit_code == 0, third.output
    assert "作成 2 / そのまま 14 / 削除 2" in third.output  # the English menus only
    assert _state(emulator)["menus"] == n_menus

    status = runner.invoke(args=["richmenu", "status", "--json"])
    info = json.loads(status.output)
    assert info["default_key"] == "normal:ja" and len(info["menus"]) == n_menus and not info["missing"]


def test_sync_refuses_a_broken_file_and_keeps_the_menus(runner, emulator, tmp_path):
    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "normal,1,1,1,hologram,x,#000000,設定,x\n", encoding="utf-8")
    result = runner.invoke(args=["richmenu", "sync", "--file", str(bad)])
    assert result.exit_code != 0 and "line 2, column action" in result.output
    assert _state(emulator)["menus"] == 2 * len(LANGS)


# --- disaster mode ------------------------------------------------------------------------------


RESIDENTS = [
    {"user_id": "U" + "a" * 32, "area": "midori-1", "lang": "ja"},
    {"user_id": "U" + "b" * 32, "area": "midori-1", "lang": "en"},
    {"user_id": "U" + "c" * 32, "area": "wakaba-1", "lang": "ja"},
    {"user_id": "U" + "d" * 32, "area": "wakaba-1", "lang": "vi"},
]


def _links(emulator) -> dict[str, str]:
    return _state(emulator)["links"]


def test_level4_alert_switches_its_area_to_the_disaster_menu_and_cancel_switches_back(runner, emulator, rt):
    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    db = rt.store.db
    resident_store.bulk_add_residents(db, [dict(r) for r in RESIDENTS])
    ids = {k: v[0] for k, v in menu_store.menus(db).items()}
    a, b, c, d = (r["user_id"] for r in RESIDENTS)

    # No disaster: Japanese residents see the default; others their language's normal menu.
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {b: ids["normal:en"], d: ids["normal:vi"]}

    alert_id = service.create_alert(
        db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, areas=["midori-1"]
    )
    service.approve(db, alert_id, "suzuki")
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {b: ids["normal:en"], d: ids["normal:vi"]}  # approved is not delivered
    service.start_delivery(db, alert_id, "tanaka")
    run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=alert_id)
    result = switcher.reconcile(db, rt.line)
    assert _links(emulator) == {a: ids["disaster:ja"], b: ids["disaster:en"], d: ids["normal:vi"]}
    assert result.linked == 2 and result.requests == 2  # only the two who change
    assert switcher.reconcile(db, rt.line).requests == 0  # nothing left to do

    cancel_id = service.cancel(db, alert_id, by="tanaka", confirmed=True)
    alert = service.get_alert(db, cancel_id)
    if alert["state"] == "draft":  # a cancel that needs approval
        service.approve(db, cancel_id, "suzuki")
    if service.get_alert(db, cancel_id)["state"] == "approved":
        service.start_delivery(db, cancel_id, "tanaka")
    run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=cancel_id)
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {b: ids["normal:en"], d: ids["normal:vi"]}


def test_alert_for_everyone_and_residents_without_area(runner, emulator, rt):
    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    db = rt.store.db
    no_area = "U" + "e" * 32
    resident_store.bulk_add_residents(db, [dict(RESIDENTS[2]), {"user_id": no_area, "area": None, "lang": "ko"}])
    ids = {k: v[0] for k, v in menu_store.menus(db).items()}
    alert_id = service.create_alert(
        db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, areas=["midori-1"]
    )
    service.approve(db, alert_id, "suzuki")
    service.start_delivery(db, alert_id, "tanaka")
    run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=alert_id)
    switcher.reconcile(db, rt.line)
    # No area chosen: they receive every area's alerts, so they get the disaster menu too.
    assert _links(emulator) == {no_area: ids["disaster:ko"]}


def test_429_and_500_back_off_and_every_resident_ends_on_the_right_menu(runner, emulator, rt):
    import threading

    from common.line_api import LineApiError

    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    db = rt.store.db
    users = [f"U{i:032x}" for i in range(1200)]
    resident_store.bulk_add_residents(db, [{"user_id": u, "area": "wakaba-1", "lang": "en"} for u in users])
    en = menu_store.menus(db)["normal:en"][0]
    requests.post(f"{emulator.base_url}/_emulator/richmenu-faults", json={"fail_next": [429]}).raise_for_status()
    with pytest.raises(LineApiError) as exc:
        switcher.reconcile(db, rt.line)
    assert exc.value.status == 429 and menu_store.count_links(db) == 0  # nothing recorded that LINE refused
    requests.post(f"{emulator.base_url}/_emulator/richmenu-faults", json={"fail_next": [500, 429]}).raise_for_status()
    stop = threading.Event()
    thread = threading.Thread(target=switcher.run, args=(rt.store, rt.line, stop), kwargs={"poll_seconds": 0.05})
    thread.start()
    try:
        deadline = __import__("time").time() + 20
        while menu_store.count_links(db) < len(users) and __import__("time").time() < deadline:
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(10)
    links = _links(emulator)
    assert menu_store.count_links(db) == len(users) and all(links[u] == en for u in users)
    calls = _state(emulator)["calls"]
    assert calls.count("fault_429") == 2 and calls.count("fault_500") == 1
    assert calls.count("bulk_link") == 3  # 500 + 500 + 200, each accepted once


def test_unfollow_removes_the_link_record(runner, emulator, rt, client):
    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    db = rt.store.db
    user = "U" + "f" * 32
    resident_store.bulk_add_residents(db, [{"user_id": user, "area": "midori-1", "lang": "en"}])
    switcher.reconcile(db, rt.line)
    assert menu_store.count_links(db) == 1
    from tests.conftest import make_event

    assert post_events(client, [make_event("unfollow", user)]).status_code == 200
    assert menu_store.count_links(db) == 0


# --- what the tiles do --------------------------------------------------------------------------


def test_say_tile_answers_as_if_the_command_was_typed(client, emulator, rt):
    user = "U" + "1" * 32
    token = emulator.mint_token(user)
    assert post_events(client, [postback_event(user, "a=say&t=安否確認", token)]).status_code == 200
    texts = emulator.texts(user)
    assert texts and "171" in texts[-1] and rt.store is not None
    token = emulator.mint_token(user)
    post_events(client, [postback_event(user, "a=say&t=災害時のよくある質問", token)])
    last = emulator.messages(user)[-1]["message"]
    assert "災害時によくある質問" in last["text"] and 1 <= len(last["quickReply"]["items"]) <= 13


def test_lift_ends_disaster_mode_and_expiry_does_too(runner, emulator, rt):
    assert runner.invoke(args=["richmenu", "sync"]).exit_code == 0
    db = rt.store.db
    resident_store.bulk_add_residents(db, [dict(RESIDENTS[0])])
    ids = {k: v[0] for k, v in menu_store.menus(db).items()}
    a = RESIDENTS[0]["user_id"]

    def send(alert_id):
        service.approve(db, alert_id, "suzuki")
        service.start_delivery(db, alert_id, "tanaka")
        run_worker(rt.store, rt.line, once=True, rate_limit_rps=None, alert_id=alert_id)

    order = service.create_alert(
        db, by="tanaka", template="evac_level4", fields={"areas": "みどり一丁目", "hazard": "洪水"}, areas=["midori-1"]
    )
    send(order)
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {a: ids["disaster:ja"]}
    send(service.lift(db, order, by="tanaka"))  # 解除: an Update approved by a second person
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {}

    shelter = service.create_alert(
        db,
        by="tanaka",
        template="shelter_open",
        fields={"areas": "みどり一丁目", "shelter_name": "みどり小学校", "address": "みどり1-2-3"},
        areas=["midori-1"],
    )
    send(shelter)
    switcher.reconcile(db, rt.line)
    assert _links(emulator) == {a: ids["disaster:ja"]}
    # Past its expiry the opening is no longer live: the normal menu comes back by itself.
    switcher.reconcile(db, rt.line, now=time.time() + 3 * 86400)
    assert _links(emulator) == {}
