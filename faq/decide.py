"""Turn ranked hits into the bot's reply kind: answer, suggest ("もしかして") or fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from faq.index import Hit

# Tuned on the *_dev.csv query sets only (see bench/README.md "Retrieval").
# Scores fused with the semantic stage (Hit.semantic) are on their own scale:
# thresholds calibrated for faq.index W_SEMANTIC fusion. On that scale a top score of 0.6 is
# right ~92 % of the time (dev) whatever the runner-up: near-ties are mostly near-duplicate
# FAQ entries, so the bot answers the top one and offers the close runner-ups as one-tap
# alternatives (Decision.candidates) instead of withholding the answer behind もしかして.
CONFIDENT = 0.6  # top score at or above this → answer directly ...
MARGIN = 0.0  # ... if it also leads the runner-up by this much
CLEAR_FLOOR = 0.5  # a lower top score still answers when it stands out:
CLEAR_RATIO = 1.2  # top ≥ CLEAR_FLOOR and top ≥ CLEAR_RATIO × runner-up
SUGGEST = 0.6  # top score at or above this (and not answered) → offer candidates
MAX_CANDIDATES = 4
# Candidates shown with a reply that is not a sure answer:
ALSO_BAND = 0.05  # an answer also offers runner-ups within this much of the top score
MAX_ALSO = 3
RELATED_FLOOR = 0.45  # the fallback lists entries scoring at least this as "related questions"
MAX_RELATED = 3
# Lexical-only scores (the lexical stage was sure, the semantic stage is still building or
# switched off): the thresholds tuned for the lexical stage alone.
LEXICAL = {"confident": 0.45, "margin": 0.04, "clear_floor": 0.25, "clear_ratio": 1.5, "suggest": 0.45}

Kind = Literal["answer", "suggest", "fallback"]


@dataclass(frozen=True)
class Decision:
    """What to reply: one answer, up to four candidates, or the fallback.

    ``candidates`` are the もしかして list for "suggest"; for "answer" the close runner-ups
    offered under the answer; for "fallback" related questions listed after "I don't know".
    """

    kind: Kind
    hit: Hit | None = None
    candidates: tuple[Hit, ...] = field(default=())


def decide(
    hits: list[Hit],
    confident: float | None = None,
    suggest: float | None = None,
    margin: float | None = None,
    clear_floor: float | None = None,
    clear_ratio: float | None = None,
) -> Decision:
    """Decide the reply for ``hits`` (best first).

    Thresholds default to the module constants for semantically fused hits and to
    ``LEXICAL`` for lexical-only hits; explicit arguments win.
    """
    if not hits:
        return Decision("fallback")
    if getattr(hits[0], "semantic", False):
        defaults = {
            "confident": CONFIDENT,
            "margin": MARGIN,
            "clear_floor": CLEAR_FLOOR,
            "clear_ratio": CLEAR_RATIO,
            "suggest": SUGGEST,
        }
    else:
        defaults = LEXICAL
    confident = defaults["confident"] if confident is None else confident
    suggest = defaults["suggest"] if suggest is None else suggest
    margin = defaults["margin"] if margin is None else margin
    clear_floor = defaults["clear_floor"] if clear_floor is None else clear_floor
    clear_ratio = defaults["clear_ratio"] if clear_ratio is None else clear_ratio
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else 0.0
    if (top.score >= confident and top.score - second >= margin) or (
        top.score >= clear_floor and top.score >= clear_ratio * second
    ):
        also = tuple(h for h in hits[1 : 1 + MAX_ALSO] if h.score >= top.score - ALSO_BAND)
        return Decision("answer", hit=top, candidates=also)
    if top.score >= suggest:
        floor = max(suggest * 0.8, top.score * 0.6)
        cands = tuple(h for h in hits[:MAX_CANDIDATES] if h.score >= floor)
        return Decision("suggest", candidates=cands)
    related = tuple(h for h in hits[:MAX_RELATED] if h.score >= RELATED_FLOOR)
    return Decision("fallback", candidates=related)
