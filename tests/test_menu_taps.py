"""A rich-menu tile is a tap, not typed text: it runs its command even in the middle of a dialogue
that is waiting for free text, and the dialogue is still there afterwards."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.both_engines


def _button(message: dict, label: str) -> str:
    for item in message["quickReply"]["items"]:
        if item["action"].get("label") == label:
            return item["action"]["data"]
    raise AssertionError(f"{label} not among {[i['action'].get('label') for i in message['quickReply']['items']]}")


def test_a_menu_tile_tapped_while_an_opinion_waits_for_its_text_is_not_taken_as_the_opinion(resident):
    msg = resident.say("意見")[-1]
    msg = resident.tap(_button(msg, "公園・緑"))[-1]
    assert "【公園・緑】" in msg["text"]

    shelters = resident.tap("a=say&t=避難所")[-1]
    # The shelter command answered (the location button), not the opinion's next step.
    assert "写真" not in shelters["text"]
    assert any(i["action"]["type"] == "location" for i in shelters["quickReply"]["items"])

    # The opinion is still waiting for its text, and takes the next typed message.
    msg = resident.say("公園のベンチが壊れています。")[-1]
    assert "写真" in msg["text"]


def test_a_menu_tile_tapped_while_a_report_waits_for_its_photo_answers_and_the_report_waits_on(resident):
    replies = resident.say("通報")
    text = "\n".join(r.get("text", "") for r in replies)
    assert text
    shelters = resident.tap("a=say&t=避難所")[-1]
    assert any(i["action"]["type"] == "location" for i in shelters["quickReply"]["items"])
    # The report is still in progress: typed text is still the report's.
    again = resident.say("こんにちは")[-1]
    assert "写真" in again["text"]
