"""Reports in LINE through the real SDK and the emulator: the whole dialogue, photos, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from store import reports as report_store
from tests.conftest import db_of
from tests.reports_helpers import Resident, has_exif, jpeg_with_gps, labels

pytestmark = pytest.mark.both_engines

USER = "U" + "7" * 32
INSIDE = (35.7013, 139.6489)  # みどり一丁目


@pytest.fixture
def app_config(app_config, tmp_path: Path):
    return {**app_config, "MEDIA_DIR": str(tmp_path / "media")}


@pytest.fixture
def resident(client, emulator):
    return Resident(client, emulator, USER)


def _media_files(app) -> list[Path]:
    return [p for p in Path(app.config["MEDIA_DIR"]).rglob("*.jpg")]


def test_photo_location_kind_description_confirm_gives_receipt(app, resident):
    original = jpeg_with_gps()
    assert has_exif(original)
    reply = resident.photo(original)
    assert "写真を受け取りました（1/3枚）" in reply["text"]
    assert "場所を教えてください" in reply["text"]
    types = [i["action"]["type"] for i in reply["quickReply"]["items"]]
    assert types[:3] == ["location", "camera", "cameraRoll"]

    reply = resident.location(*INSIDE)
    assert "みどり一丁目" in reply["text"] and "何の不具合" in reply["text"]
    assert labels(reply)[:6] == [
        "道路・歩道の損傷",
        "街路灯・防犯灯",
        "公園・遊具",
        "不法投棄",
        "カーブミラー・標識",
        "その他",
    ]

    reply = resident.tap(reply, "街路灯・防犯灯")
    assert "ひとことで" in reply["text"]
    reply = resident.say("防犯灯が夜になっても点きません")
    assert "街路灯・防犯灯" in reply["text"] and "写真：1枚" in reply["text"] and "防犯灯が夜" in reply["text"]
    reply = resident.tap(reply, "送信する")
    assert "受付番号" in reply["text"]
    number = int(reply["text"].split("受付番号：")[1].split()[0])

    report = report_store.get_report(db_of(app), number)
    assert report["kind"] == "light" and report["area_code"] == "midori-1" and report["status"] == "received"
    assert report["user_id"] == USER and report["description"] == "防犯灯が夜になっても点きません"
    assert report_store.get_draft(db_of(app), USER) is None
    # The stored photos (full and console size) carry no EXIF at all.
    assert len(report["photos"]) == 1
    stored = _media_files(app)
    assert len(stored) == 2
    for path in stored:
        data = path.read_bytes()
        assert not has_exif(data), path
        assert b"PhoneMaker" not in data and b"GPS" not in data


def test_location_first_then_photo_works_and_report_command_starts(app, resident):
    reply = resident.say("通報")
    assert "写真" in reply["text"]
    assert [i["action"]["type"] for i in reply["quickReply"]["items"]][:2] == ["camera", "cameraRoll"]
    reply = resident.location(*INSIDE)  # place before any photo: taken, then the photo is asked for
    assert "場所を受け取りました" in reply["text"] and "写真を送ってください" in reply["text"]
    reply = resident.photo(jpeg_with_gps())
    assert "何の不具合" in reply["text"]
    reply = resident.tap(reply, "公園・遊具")
    reply = resident.tap(reply, "説明なし")
    reply = resident.tap(reply, "送信する")
    assert "受付番号" in reply["text"]
    assert report_store.count_reports(db_of(app)) == 1


def test_location_without_report_still_finds_shelters(resident):
    reply = resident.location(*INSIDE)
    assert "避難所" in (reply.get("text") or reply.get("altText", ""))


def test_cancel_at_any_step_deletes_draft_and_photos(app, resident):
    resident.photo(jpeg_with_gps())
    assert len(_media_files(app)) == 2
    reply = resident.say("やめる")
    assert "取り消しました" in reply["text"]
    assert report_store.get_draft(db_of(app), USER) is None
    assert _media_files(app) == []
    assert report_store.count_reports(db_of(app)) == 0


def test_typed_address_is_the_place(app, resident):
    resident.say("通報")
    reply = resident.tap(resident.last(), "写真なしで続ける")
    reply = resident.say("若葉二丁目14番 公園の入口")
    assert "住所" in reply["text"] and "何の不具合" in reply["text"]
    resident.tap(reply, "不法投棄")
    reply = resident.say("粗大ごみが置かれたまま")
    assert "若葉二丁目14番" in reply["text"] and "写真：0枚" in reply["text"]
    resident.tap(reply, "送信する")
    report = report_store.list_reports(db_of(app))[0]
    assert report["address"] == "若葉二丁目14番 公園の入口" and report["area_code"] == "wakaba-2"
    assert report["lat"] is None and report["photos"] == []


def test_orientation_is_applied_before_metadata_is_dropped(app, resident):
    resident.photo(jpeg_with_gps(size=(400, 200), orientation=6))  # 6 = rotate 90° clockwise to view
    draft = report_store.get_draft(db_of(app), USER)
    photo = draft["state"]["photos"][0]
    assert (photo["width"], photo["height"]) == (200, 400)


def test_english_resident_is_asked_in_english(app, client, emulator):
    emulator.add_user("Uen7", language="en")
    r = Resident(client, emulator, "Uen7")
    reply = r.say("report")
    assert "Please send a photo" in reply["text"]
    assert "Cancel" in labels(reply)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["video", "file"])
def test_video_or_file_instead_of_photo_is_refused_clearly(app, resident, kind):
    resident.say("通報")
    reply = resident.send(kind)
    assert "動画やファイルは受け付けできません" in reply["text"]
    assert "写真" in reply["text"]
    assert report_store.count_reports(db_of(app)) == 0
    assert report_store.get_draft(db_of(app), USER)["state"]["photos"] == []


def test_non_image_bytes_are_refused_and_start_no_report(app, resident):
    reply = resident.photo(b"%PDF-1.4 not really a photo", content_type="image/jpeg")
    assert "画像として読み取れませんでした" in reply["text"]
    assert report_store.get_draft(db_of(app), USER) is None
    assert _media_files(app) == []


def test_photo_over_the_limit_is_refused(app, client, emulator, app_config):
    app.config["REPORT_PHOTO_MAX_MB"] = 0.05  # 50 KB, so the test photo need not be 10 MB
    r = Resident(client, emulator, USER)
    reply = r.photo(jpeg_with_gps(size=(800, 800), noise=True))
    assert "大きすぎます" in reply["text"]
    assert report_store.get_draft(db_of(app), USER) is None


def test_location_far_outside_the_ward_asks_to_confirm(app, resident):
    resident.photo(jpeg_with_gps())
    reply = resident.location(34.7025, 135.4959)  # 大阪駅
    assert "みどり区の外" in reply["text"]
    reply = resident.tap(reply, "場所を送り直す")
    assert "場所を教えてください" in reply["text"]
    reply = resident.location(34.7025, 135.4959)
    reply = resident.tap(reply, "この場所で通報")
    assert "何の不具合" in reply["text"]
    draft = report_store.get_draft(db_of(app), USER)["state"]
    assert draft["outside_confirmed"] and draft["area_code"] is None


def test_content_api_500_is_retried(app, resident):
    reply = resident.photo(jpeg_with_gps(), fail="500,500")
    assert "写真を受け取りました" in reply["text"]
    calls = [r for r in resident.emulator.requests_log() if r.get("endpoint") == "content"]
    assert [c["status"] for c in calls] == [500, 500, 200]


def test_content_api_failing_tells_the_resident_and_leaves_nothing(app, resident):
    reply = resident.photo(jpeg_with_gps(), fail="500,500,500")
    assert "写真を受け取れませんでした" in reply["text"]
    assert report_store.get_draft(db_of(app), USER) is None
    calls = [r for r in resident.emulator.requests_log() if r.get("endpoint") == "content"]
    assert len(calls) == 3


def test_content_api_404_is_not_retried(app, resident):
    token = resident.emulator.mint_token(USER)
    from tests.conftest import post_events
    from tests.reports_helpers import image_event

    post_events(resident.client, [image_event(USER, token, "424242")])  # never registered: 404
    assert "期限が切れていました" in resident.last()["text"]
    calls = [r for r in resident.emulator.requests_log() if r.get("endpoint") == "content"]
    assert [c["status"] for c in calls] == [404]
    assert report_store.get_draft(db_of(app), USER) is None


def test_second_photo_mid_flow_is_added_and_the_question_repeated(app, resident):
    resident.photo(jpeg_with_gps())
    reply = resident.location(*INSIDE)
    assert "何の不具合" in reply["text"]
    reply = resident.photo(jpeg_with_gps())
    assert "（2/3枚）" in reply["text"] and "何の不具合" in reply["text"]
    resident.photo(jpeg_with_gps())
    reply = resident.photo(jpeg_with_gps())
    assert "写真は3枚まで" in reply["text"] and "何の不具合" in reply["text"]
    assert len(report_store.get_draft(db_of(app), USER)["state"]["photos"]) == 3
    assert len(_media_files(app)) == 6  # the refused fourth left no file behind


def test_postback_from_an_expired_flow_changes_nothing(app, resident):
    resident.photo(jpeg_with_gps())
    reply = resident.location(*INSIDE)
    kind_reply = reply
    # Thirty-one minutes later…
    db_of(app).execute("UPDATE report_drafts SET updated_at = updated_at - 31 * 60")
    reply = resident.tap(kind_reply, "公園・遊具")
    assert "30分たったため取り消しました" in reply["text"]
    assert report_store.get_draft(db_of(app), USER) is None
    assert _media_files(app) == []
    reply = resident.tap(kind_reply, "公園・遊具")  # the same old button again
    assert "受付は終了しています" in reply["text"]
    assert report_store.count_reports(db_of(app)) == 0


def test_postback_of_a_finished_report_does_not_submit_twice(app, resident):
    resident.say("通報")
    reply = resident.tap(resident.last(), "写真なしで続ける")
    reply = resident.say("みどり三丁目1番")
    reply = resident.tap(reply, "その他")
    confirm = resident.tap(reply, "説明なし")
    resident.tap(confirm, "送信する")
    reply = resident.tap(confirm, "送信する")
    assert "受付は終了しています" in reply["text"]
    assert report_store.count_reports(db_of(app)) == 1


def test_daily_limit(app, resident):
    app.config["REPORTS_PER_DAY"] = 1
    from reports.service import _SETTINGS

    _SETTINGS.clear()
    for _ in range(2):
        reply = resident.say("通報")
        if "上限" in reply.get("text", "") or "1日" in reply.get("text", ""):
            break
        resident.tap(reply, "写真なしで続ける")
        reply = resident.say("みどり三丁目1番")
        reply = resident.tap(reply, "その他")
        reply = resident.tap(reply, "説明なし")
        resident.tap(reply, "送信する")
    assert "1日1件まで" in reply["text"]
    assert report_store.count_reports(db_of(app)) == 1


def test_stored_photo_is_a_valid_upright_jpeg(app, resident):
    resident.photo(jpeg_with_gps(size=(3000, 1000)))
    sizes = sorted(Image.open(io.BytesIO(p.read_bytes())).size for p in _media_files(app))
    assert sizes == [(640, 213), (2048, 683)]
