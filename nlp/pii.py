"""Mask obvious personal data in what residents type before it is stored (the query log).

Phone numbers, マイナンバー-like and card-like digit runs (any run of 10 or more digits,
separators allowed) and e-mail addresses become a placeholder. Every pattern can only start
at the beginning of its run (a lookbehind), so masking is linear in the text's length.
"""

from __future__ import annotations

import re

# Digits (any script: \d matches full-width ones too), joined by single separators.
_DIGIT_RUN = re.compile(r"(?<![\d+＋])[+＋]?\d(?:\d|[-‐‑–—―－ー ()（）.](?=\d))*")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MIN_DIGITS = 10  # 03-1234-5678 has 10; a date (2026-12-01) or a postcode (123-4567) fewer
DIGITS_MASK = "[番号]"
EMAIL_MASK = "[メール]"


def _digits(match: re.Match[str]) -> str:
    text = match.group(0)
    return DIGITS_MASK if sum(ch.isdigit() for ch in text) >= MIN_DIGITS else text


def mask_personal(text: str) -> str:
    """`text` with phone-, マイナンバー- and card-like numbers and e-mail addresses masked."""
    if not isinstance(text, str):
        raise TypeError(f"mask_personal() expects str, got {type(text).__name__}")
    return _DIGIT_RUN.sub(_digits, _EMAIL.sub(EMAIL_MASK, text))
