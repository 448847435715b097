"""LINE counts text limits in UTF-16 code units: one product function, checked against the emulator's own."""

from __future__ import annotations

import pytest

from alerts.render import clip
from alerts.vocab import TEXT_MAX
from bot.handlers.chat import clip_text
from linesim.validate import utf16_len as emulator_utf16_len
from nlp.language import utf16_len

SAMPLES = ["", "abc", "避難所", "🏠", "家🏠é\u0301", "a" * 5001, "😀" * 2600]


@pytest.mark.parametrize("text", SAMPLES)
def test_product_and_emulator_count_alike(text):
    assert utf16_len(text) == emulator_utf16_len(text)


def test_counts():
    assert (utf16_len("abc"), utf16_len("避難所"), utf16_len("🏠"), utf16_len("")) == (3, 3, 2, 0)


def test_clipped_chat_text_fits_and_says_so():
    assert clip_text("あいう", 3) == "あいう"
    assert clip_text("😀" * 10, 5) == "😀😀…"
    assert utf16_len(clip_text("😀" * 3000)) <= 5000


def test_a_long_alert_body_of_emoji_still_fits_one_line_message():
    assert clip("あ" * 10) == "あ" * 10
    assert clip("あ" * 6000) == "あ" * (TEXT_MAX - 200) + "…"
    assert utf16_len(clip("😀" * 4000)) <= TEXT_MAX  # was 4,800 emoji: 9,601 units, over LINE's limit
