"""Guess a message's language from the scripts it is written in."""

from __future__ import annotations


def _counts(text: str) -> tuple[int, int, int, int]:
    hangul = kana = han = latin = 0
    for ch in text:
        o = ord(ch)
        if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
        elif 0x3041 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D:
            if ch != "\u30fb":  # the middle dot is shared punctuation
                kana += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
            han += 1
        elif ch.isalpha() and (o < 0x250 or 0x1E00 <= o <= 0x1EFF or 0xFF21 <= o <= 0xFF5A):
            latin += 1
    return hangul, kana, han, latin


def detect_script_language(text: str) -> str | None:
    """Return "ko", "ja", "zh", "en" or None judging only by script.

    Hangul → "ko"; any kana → "ja"; Han without kana → "zh"; Latin letters only →
    "en" (it may be Vietnamese or Portuguese too; callers refine); otherwise None.
    """
    hangul, kana, han, latin = _counts(text)
    if hangul and hangul >= kana:
        return "ko"
    if kana:
        return "ja"
    if han:
        return "zh"
    if latin:
        return "en"
    return None
