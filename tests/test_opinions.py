"""Opinions: the dialogue in the chat, staff replies once in the resident's language, privacy."""

from __future__ import annotations

import time

import pytest

from bot.handlers.opinions import reply_messages, topics
from opinions import service
from outbox import sender
from store import opinions as opinion_store
from store import residents as resident_store
from tests.conftest import make_event, post_events, say, tap

pytestmark = pytest.mark.both_engines
USER = "U" + "7" * 32


def button(message, label):
    for item in message["quickReply"]["items"]:
        if item["action"].get("label") == label:
            return item["action"].get("data")
    raise AssertionError(f"{label} not in {[i['action'].get('label') for i in message['quickReply']['items']]}")


def send_opinion(client, emulator, text="公園のベンチが壊れています。修理をお願いします。", reply=True, user=USER):
    msg = say(client, emulator, "意見", user)[-1]
    msg = tap(client, emulator, button(msg, "公園・緑"), user)[-1]
    assert "【公園・緑】" in msg["text"]
    msg = say(client, emulator, text, user)[-1]
    assert "写真" in msg["text"]
    msg = tap(client, emulator, button(msg, "写真なし"), user)[-1]
    msg = tap(client, emulator, button(msg, "回答を希望する" if reply else "回答は不要"), user)[-1]
    assert "この内容で送りますか" in msg["text"]
    msg = tap(client, emulator, button(msg, "送信する"), user)[-1]
    assert "受付番号は O-" in msg["text"]
    return int(msg["text"].split("O-")[1][:6])


def test_opinion_sent_answered_by_staff_and_received_once_in_the_residents_language(rt, emulator, client):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "wakaba-1", "lang": "ja"}])
    opinion_id = send_opinion(client, emulator)
    op = service.get(db, opinion_id)
    assert (
        op["area"] == "wakaba-1" and op["topic"] == "parks" and op["wants_reply"] and op["department"] == "公園緑地課"
    )
    assert USER not in str(op)  # staff see a pseudonym, never the LINE id
    resident_store.set_resident(db, USER, lang="en")
    op_en = dict(op, lang="en")
    render = reply_messages("ja")
    assert "[Reply from Midori Ward]" in render(op_en, "x")[0]["text"]
    reply_id, sent_now = service.write_reply(
        db, opinion_id, "ベンチは来週修理します。", "tanaka", topics_of(rt), render
    )
    assert sent_now
    sender.deliver_due(rt.store, rt.line)
    sender.deliver_due(rt.store, rt.line)  # nothing is sent twice
    pushes = [m for m in emulator.messages(USER, kind="push")]
    assert len(pushes) == 1 and "ベンチは来週修理します。" in pushes[0]["message"]["text"]
    assert "【みどり区からの回答】" in pushes[0]["message"]["text"]
    assert service.get(db, opinion_id)["status"] == "answered"
    assert service.reply_delivery(db, reply_id) == "送信済み"


def topics_of(rt):
    return service.load_topics(rt.store and __import__("webhook").DEFAULTS["OPINION_TOPICS_CSV"])


def test_a_department_that_asks_for_approval_holds_the_reply_for_a_second_person(rt, emulator, client):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "midori-1", "lang": "ja"}])
    msg = say(client, emulator, "提案")[-1]
    msg = tap(client, emulator, button(msg, "防災・防犯"))[-1]
    say(client, emulator, "防災訓練を土曜にも開いてほしい")
    msg = tap(client, emulator, button(emulator.messages(USER)[-1]["message"], "写真なし"))[-1]
    msg = tap(client, emulator, button(msg, "回答を希望する"))[-1]
    msg = tap(client, emulator, button(msg, "送信する"))[-1]
    opinion_id = int(msg["text"].split("O-")[1][:6])
    tops = topics_of(rt)
    reply_id, sent_now = service.write_reply(
        db, opinion_id, "土曜の訓練を検討します。", "tanaka", tops, reply_messages("ja")
    )
    assert not sent_now
    with pytest.raises(service.OpinionError, match="本人は承認できません"):
        service.approve_reply(db, reply_id, "tanaka", reply_messages("ja"))
    sender.deliver_due(rt.store, rt.line)
    assert emulator.messages(USER, kind="push") == []
    service.approve_reply(db, reply_id, "suzuki", reply_messages("ja"))
    with pytest.raises(service.OpinionError):
        service.approve_reply(db, reply_id, "sato", reply_messages("ja"))  # never twice
    sender.deliver_due(rt.store, rt.line)
    assert len(emulator.messages(USER, kind="push")) == 1


def test_stopping_halfway_keeps_the_text_for_a_day(rt, emulator, client):
    resident_store.bulk_add_residents(rt.store.db, [{"user_id": USER, "area": None, "lang": "ja"}])
    msg = say(client, emulator, "意見")[-1]
    tap(client, emulator, button(msg, "道路・交通"))
    say(client, emulator, "駅前の横断歩道の信号が短すぎます")
    # The resident goes away and asks something else, then comes back.
    say(client, emulator, "住民票をとりたい")
    msg = say(client, emulator, "意見")[-1]
    assert "書きかけのご意見があります" in msg["text"] and "横断歩道" in msg["text"]
    msg = tap(client, emulator, button(msg, "続ける"))[-1]
    assert "写真" in msg["text"]


def test_bad_input_emoji_only_huge_text_cancel_and_expired_buttons(rt, emulator, client):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "midori-1", "lang": "ja"}])
    msg = say(client, emulator, "意見")[-1]
    tap(client, emulator, button(msg, "その他"))
    assert "文字でご意見を書いてください" in say(client, emulator, "👍👍🎉")[-1]["text"]
    long = "区のサービスについて。" * 600  # 6,000 characters: LINE itself sends at most 5,000
    msg = say(client, emulator, long[:5000])[-1]
    msg = tap(client, emulator, button(msg, "写真なし"))[-1]
    msg = tap(client, emulator, button(msg, "回答は不要"))[-1]
    assert len(msg["text"]) < 1500  # the confirmation shows an excerpt, not 5,000 characters
    msg = say(client, emulator, "やめる")[-1]
    assert "やめました" in msg["text"]
    assert opinion_store.list_opinions(db, {}) == []
    # A button from the finished dialogue does nothing harmful.
    assert "見つかりませんでした" in tap(client, emulator, "a=op&s=send")[-1]["text"]


def test_photo_is_stored_without_exif(rt, emulator, client, tmp_path):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "midori-1", "lang": "ja"}])
    msg = say(client, emulator, "意見")[-1]
    tap(client, emulator, button(msg, "公園・緑"))
    say(client, emulator, "遊具のペンキがはがれています")
    from tests.reports_helpers import has_exif, image_event, jpeg_with_gps, put_content

    original = jpeg_with_gps()
    assert has_exif(original)
    message_id = put_content(emulator, original)
    post_events(client, [image_event(USER, emulator.mint_token(USER), message_id)])
    msg = emulator.messages(USER)[-1]["message"]
    assert "回答を希望しますか" in msg["text"], msg["text"]
    msg = tap(client, emulator, button(msg, "回答は不要"))[-1]
    msg = tap(client, emulator, button(msg, "送信する"))[-1]
    opinion_id = int(msg["text"].split("O-")[1][:6])
    op = service.get(db, opinion_id)
    from reports.service import Settings

    data = Settings.from_config(client.application.config, rt.areas).media.get(op["photo_full"])
    assert data and not has_exif(data)


def test_unfollow_deletes_unanswered_opinions_and_anonymises_answered_ones(rt, emulator, client):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "midori-1", "lang": "ja"}])
    kept = send_opinion(client, emulator, "ひとつめ")
    gone = send_opinion(client, emulator, "ふたつめ")
    service.write_reply(db, kept, "ありがとうございます", "tanaka", topics_of(rt), reply_messages("ja"))
    service.add_note(db, gone, "現地確認する", "tanaka")
    token = emulator.mint_token(USER)
    post_events(client, [make_event("unfollow", USER, None)])
    assert token
    rows = opinion_store.list_opinions(db, {})
    assert [r["id"] for r in rows] == [kept]
    assert rows[0]["anonymised"] and rows[0]["author"] is None and not rows[0]["reachable"]
    assert opinion_store.get_draft(db, USER, 86400) is None


def test_ten_a_day(rt, emulator, client):
    db = rt.store.db
    resident_store.bulk_add_residents(db, [{"user_id": USER, "area": "midori-1", "lang": "ja"}])
    for i in range(service.PER_DAY):
        opinion_store.insert_opinion(
            db, {"user_id": USER, "author": "x", "topic": "other", "body": f"{i}", "created_at": time.time()}
        )
    msg = say(client, emulator, "意見")[-1]
    tap(client, emulator, button(msg, "その他"))
    msg = say(client, emulator, "もうひとつ")[-1]
    msg = tap(client, emulator, button(msg, "写真なし"))[-1]
    msg = tap(client, emulator, button(msg, "回答は不要"))[-1]
    msg = tap(client, emulator, button(msg, "送信する"))[-1]
    assert "1日10件まで" in msg["text"]


def test_topic_file_errors_name_line_and_column(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("code,ja,department,reply_approval\nroads,道路,土木課,2\n公園,公園,公園課,0\n", encoding="utf-8")
    with pytest.raises(service.TopicFileError) as exc:
        service.load_topics(bad)
    assert "line 2, column reply_approval" in str(exc.value) and "line 3, column code" in str(exc.value)
    assert topics  # the module-level loader exists for the bot
