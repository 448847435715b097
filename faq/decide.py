"""Turn ranked hits into the bot's reply kind: answer, suggest ("もしかして") or fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from faq.index import Hit

# Tuned on the *_dev.csv query sets only (see bench/README.md "Retrieval").
# Calibrated for the lexical + semantic fusion (faq.index W_SEMANTIC); lexical-only serving
# (semantic stage still building or switched off) uses the same values.
CONFIDENT = 0.45  # top score at or above this → answer directly ...
MARGIN = 0.06  # ... if it also leads the runner-up by this much
CLEAR_FLOOR = 0.35  # a lower top score still answers when it stands out:
CLEAR_RATIO = 1.5  # top ≥ CLEAR_FLOOR and top ≥ CLEAR_RATIO × runner-up
SUGGEST = 0.6  # top score at or above this → offer candidates
MAX_CANDIDATES = 4

Kind = Literal["answer", "suggest", "fallback"]


@dataclass(frozen=True)
class Decision:
    """What to reply: one answer, up to four candidates, or the fallback."""

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
    """Decide the reply for ``hits`` (best first); thresholds default to the module constants."""
    confident = CONFIDENT if confident is None else confident
    suggest = SUGGEST if suggest is None else suggest
    margin = MARGIN if margin is None else margin
    clear_floor = CLEAR_FLOOR if clear_floor is None else clear_floor
    clear_ratio = CLEAR_RATIO if clear_ratio is None else clear_ratio
    if not hits:
        return Decision("fallback")
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else 0.0
    if top.score >= confident and top.score - second >= margin:
        return Decision("answer", hit=top)
    if top.score >= clear_floor and top.score >= clear_ratio * second:
        return Decision("answer", hit=top)
    if top.score >= suggest:
        floor = max(suggest * 0.8, top.score * 0.6)
        cands = tuple(h for h in hits[:MAX_CANDIDATES] if h.score >= floor)
        return Decision("suggest", candidates=cands)
    return Decision("fallback")
