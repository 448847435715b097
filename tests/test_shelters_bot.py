"""Residents and shelters through the signed webhook, the real SDK and the emulator."""

from __future__ import annotations

import json
import re

import pytest

from bot.context import Ctx
from bot.handlers import shelters as handler
from bot.runtime import runtime
from common.i18n import LANGUAGES
from common.i18n.shelters import MESSAGES
from shelters import service
from tests.conftest import say, send_alert, send_location
from tests.test_shelters_fixtures import SAMPLE

USER = "U" + "5" * 32
MIDORI_SCHOOL = (35.7012, 139.6488)  # みどり区立みどり小学校 (E131999000101)
ALT_RE = re.compile(r"^\d+\. (?P<name>.+)（(?P<status>[^ ）]+)(?: ・ [^）]+)?）$")


def listed(flex: dict) -> list[tuple[str, str]]:
    """(status label, name) of each shelter of the carousel, checked against its altText."""
    bubbles = flex["contents"]["contents"]
    shown = [(b["header"]["contents"][0]["text"], b["body"]["contents"][0]["text"]) for b in bubbles]
    alt = [(m["status"], m["name"]) for line in flex["altText"].splitlines() if (m := ALT_RE.match(line))]
    assert alt[: len(shown)] == shown, (alt, shown)
    return shown


def check_text(text: dict) -> None:
    """The text beside the carousel never repeats the shelters with raw map links."""
    assert text["type"] == "text" and "https://" not in text["text"]


def check_flex(flex: dict) -> list[dict]:
    assert flex["type"] == "flex"
    assert 0 < len(flex["altText"]) <= 400
    assert len(json.dumps(flex["contents"], ensure_ascii=False).encode()) < 10_000
    bubbles = flex["contents"]["contents"]
    assert flex["contents"]["type"] == "carousel" and 1 <= len(bubbles) <= 12
    return bubbles


def test_end_to_end_import_open_two_and_resident_sends_location(client, emulator, runner, app):
    assert runner.invoke(args=["shelters", "import", str(SAMPLE)]).exit_code == 0
    with app.app_context():
        db = runtime(app).store.db
        ranked = service.nearest(db, *MIDORI_SCHOOL, limit=26, only_open=False)
    nearest_closed, second, farther = ranked[0], ranked[1], ranked[6]
    for shelter in (farther, second):
        result = runner.invoke(args=["shelters", "status", shelter["source_id"], "open", "--by", "op-a"])
        assert result.exit_code == 0, result.output
    assert emulator.messages() == []  # opening shelters notifies nobody by itself

    text, flex = send_location(client, emulator, *MIDORI_SCHOOL, user=USER)
    names = {s["name"]: s for s in ranked}
    check_text(text)
    lines = listed(flex)
    assert lines == [("開設", second["name"]), ("開設", farther["name"])]  # nearest OPEN first
    assert nearest_closed["name"] not in text["text"]
    with app.app_context():  # never call a closed one open: every label is the shelter's real status
        current = {s["name"]: s["status"] for s in service.list_shelters(db)}
    assert all(MESSAGES["ja"][f"shelter_status_{current[name]}"] == label for label, name in lines)
    assert {names[name]["source_id"] for _, name in lines} == {second["source_id"], farther["source_id"]}
    assert second["name"] not in text["text"]  # the shelters are shown once, in the carousel
    bubbles = check_flex(flex)
    assert [b["body"]["contents"][0]["text"] for b in bubbles] == [second["name"], farther["name"]]
    assert [b["header"]["contents"][0]["text"] for b in bubbles] == ["開設", "開設"]
    uri = bubbles[0]["footer"]["contents"][0]["action"]["uri"]
    assert uri.startswith(f"https://www.google.com/maps/dir/?api=1&destination={second['lat']:.6f},{second['lon']:.6f}")
    assert "約" in bubbles[0]["body"]["contents"][1]["text"] and "収容" in bubbles[0]["body"]["contents"][1]["text"]


def test_none_open_nearby_says_so_and_marks_designated_ones_closed(client, emulator, app):
    with app.app_context():
        db = runtime(app).store.db
        service.import_file(db, SAMPLE, by="test")
        ranked = service.nearest(db, *MIDORI_SCHOOL, limit=3, only_open=False)
        service.set_status(db, ranked[1]["source_id"], "full", by="op")
    text, flex = send_location(client, emulator, *MIDORI_SCHOOL, user=USER)
    assert "開設している避難所は、まだありません" in text["text"]
    check_text(text)
    assert listed(flex) == [("未開設", ranked[0]["name"]), ("満員", ranked[1]["name"]), ("未開設", ranked[2]["name"])]
    headers = [b["header"]["contents"][0]["text"] for b in check_flex(flex)]
    assert headers == ["未開設", "満員", "未開設"]


def test_location_far_from_every_shelter(client, emulator):
    (msg,) = send_location(client, emulator, 43.06, 141.35, user=USER)  # Sapporo; the sample is seeded lazily
    assert msg["type"] == "text" and "見つかりませんでした" in msg["text"]


@pytest.mark.parametrize("word", ["避難所", "近くの避難所", "ひなんじょ"])
def test_shelter_word_asks_for_the_location(client, emulator, word):
    (msg,) = say(client, emulator, word, USER)
    items = msg["quickReply"]["items"]
    assert [i["action"]["type"] for i in items] == ["location"]
    assert items[0]["action"]["label"] == "現在地を送る"


def test_ask_by_area_name(client, emulator, app):
    with app.app_context():
        service.ensure_seeded(runtime(app).store, SAMPLE)
        service.set_status(runtime(app).store.db, "E131999002601", "open", by="op")
    text, flex = say(client, emulator, "みどり二丁目の避難所", USER)
    assert "みどり二丁目の指定避難所" in text["text"]
    assert listed(flex) == [("開設", "都立みどりの丘公園"), ("未開設", "みどり区立みどり中学校")]
    check_flex(flex)
    first, flex = say(client, emulator, "泉町 避難所", USER)
    assert "泉町の指定避難所" in first["text"] and "泉小学校" in flex["altText"]


def test_hazard_limits_the_shelters(app):
    with app.app_context():
        rt = runtime(app)
        service.import_file(rt.store.db, SAMPLE, by="test")
        for s in service.list_shelters(rt.store.db):
            service.set_status(rt.store.db, s["source_id"], "open", by="op")
        ctx = Ctx(config=app.config, store=rt.store, line=rt.line, faq=rt.faq, areas=rt.areas, lang="ja")
        text, flex = handler.nearest_reply(ctx, *MIDORI_SCHOOL, hazard="fire")
        assert text.text.startswith("大規模な火事に対応した")
        names = [name for _, name in listed(json.loads(flex.to_json()))]
        by_name = {s["name"]: s for s in service.list_shelters(rt.store.db)}
        assert names and all("fire" in by_name[n]["hazards"] for n in names)
        _, plain = handler.nearest_reply(ctx, *MIDORI_SCHOOL, hazard=None)
        assert len(listed(json.loads(plain.to_json()))) == 5


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_renders_a_valid_carousel(app, lang):
    with app.app_context():
        rt = runtime(app)
        service.import_file(rt.store.db, SAMPLE, by="test")
        service.set_status(rt.store.db, "E131999000101", "crowded", count=700, by="op")
        ctx = Ctx(config=app.config, store=rt.store, line=rt.line, faq=rt.faq, areas=rt.areas, lang=lang)
        text, flex = handler.nearest_reply(ctx, *MIDORI_SCHOOL, hazard="flood")
    flex = json.loads(flex.to_json())
    check_flex(flex)
    assert MESSAGES[lang]["shelter_status_crowded"] in flex["altText"]
    assert MESSAGES[lang]["shelter_status_crowded"] in json.dumps(flex["contents"], ensure_ascii=False)
    for item in handler.ask_location_messages(lang)[0].quick_reply.items:
        assert len(item.action.label) <= 20


def test_catalog_has_every_key_in_all_eight_languages():
    keys = set(MESSAGES["ja"])
    for lang in LANGUAGES:
        assert set(MESSAGES[lang]) == keys, lang
        for key in keys:
            fields = set(re.findall(r"{(\w+)}", MESSAGES["ja"][key]))
            assert set(re.findall(r"{(\w+)}", MESSAGES[lang][key])) == fields, (lang, key)


def test_many_long_shelters_stay_under_the_flex_size(app):
    shelters = [
        {"source_id": f"X{i}", "name": "とても長い名前の避難所" * 3, "address": "東京都みどり区" + "一" * 60, "lat": 35.7,
         "lon": 139.65, "capacity": 12000, "head_count": 11999, "status": "crowded", "distance_m": 4999.0}
        for i in range(12)
    ]  # fmt: skip
    text, flex = handler.shelter_messages("intro", shelters, "pt")
    shown = len(check_flex(json.loads(flex.to_json())))
    assert 6 <= shown < 12
    # The ones the carousel has no room for are named in the text, without map links.
    assert text.text.count("とても長い名前の避難所") == 3 * (12 - shown) and "https://" not in text.text


def test_active_alert_hazard_picks_suitable_shelters(client, emulator, app):
    """A real, approved and delivered 避難指示 for fire in the resident's area picks fire-safe shelters."""
    from alerts import service as alerts_service
    from store import residents as resident_store

    with app.app_context():
        rt = runtime(app)
        db = rt.store.db
        service.import_file(db, SAMPLE, by="test")
        for s in service.list_shelters(db):
            service.set_status(db, s["source_id"], "open", by="op")
        by_name = {s["name"]: s for s in service.list_shelters(db)}
        resident_store.set_resident(db, USER, area="midori-1", reg_step=None)
        fields = {"areas": "みどり一丁目", "hazard": "大規模な火事"}
        send_alert(rt, template="evac_level4", fields=fields, areas=["midori-1"])
        assert [a["hazard"] for a in alerts_service.active_alerts_for(db, "midori-1")] == ["fire"]
    text, flex = send_location(client, emulator, *MIDORI_SCHOOL, user=USER)
    assert text["text"].startswith("大規模な火事に対応した")
    assert listed(flex) and all("fire" in by_name[name]["hazards"] for _, name in listed(flex))
    assert not all("fire" in s["hazards"] for s in by_name.values())  # the filter really removed some
