"""Text normalization shared by indexing and querying."""

from __future__ import annotations

import re
import unicodedata

# Dash-like characters that mean the katakana long vowel when they follow kana.
_LONG_VOWEL_LIKE = "\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u301c\uff5e\u223c~"
_LONG_VOWEL_RE = re.compile("(?<=[\u3041-\u309f\u30a1-\u30fa])[" + re.escape(_LONG_VOWEL_LIKE) + "]+")
# Wave dash variants used for ranges (9時〜17時) are unified to one character.
_WAVE_RE = re.compile("[\u301c\uff5e\u223c\u2053~]")
_SPACE_RE = re.compile(r"\s+")
# Zero-width characters, variation selectors and emoji modifiers carry no meaning here.
_INVISIBLE_RE = re.compile("[\u200b-\u200f\u2060\ufe00-\ufe0f\U000e0100-\U000e01ef\U0001f3fb-\U0001f3ff]")
# Symbol categories treated as decoration (emoji, ★, ♪, box drawing, ...).
_DECORATION_CATEGORIES = {"So", "Sk", "Cs", "Co", "Cn"}
_KEEP_SYMBOLS = set("〒〆")


def _is_decoration(ch: str) -> bool:
    if ch in _KEEP_SYMBOLS:
        return False
    return unicodedata.category(ch) in _DECORATION_CATEGORIES


def normalize(text: str) -> str:
    """Return ``text`` in the canonical form used for matching.

    NFKC (so full- and half-width forms meet), lowercase Latin, one wave dash,
    the long-vowel mark for dash look-alikes after kana, no emoji or decoration,
    and single spaces.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() expects str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    text = "".join(" " if _is_decoration(ch) else ch for ch in text)
    text = _LONG_VOWEL_RE.sub("ー", text)
    text = _WAVE_RE.sub("〜", text)
    text = text.lower()
    text = _SPACE_RE.sub(" ", text)
    return text.strip()
