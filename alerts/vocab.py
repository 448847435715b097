"""Alert limits, hazards and language names (states, statuses and kinds: store/vocab.py)."""

from __future__ import annotations

from shelters import hazards

DEFAULT_STALE_MINUTES = 30.0
DEFAULT_EXPIRY_HOURS = 24.0
TEXT_MAX = 5000
FIELD_MAX = 200
# Free text limits (README): a headline is a line people read in a notification and lists; a body
# stays well under LINE's 5,000 characters with the status and type lines added, so nothing is
# clipped on the way to residents.
HEADLINE_MAX = 100
BODY_MAX = 4000
HAZARDS = hazards.LABELS  # key → the label operators and residents read
INTENSITIES = ("1", "2", "3", "4", "5弱", "5強", "6弱", "6強", "7")

# Words that mark a drill or test text: such text is never sent as actual.
DRILL_MARKERS = ("訓練", "くんれん", "テスト", "drill", "exercise", "これは試験")
