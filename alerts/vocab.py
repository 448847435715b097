"""The alert vocabulary: CAP statuses and message types, limits, and the labels people read."""

from __future__ import annotations

from shelters import hazards

STATUSES = ("actual", "exercise", "test")
MSG_TYPES = ("alert", "update", "cancel")
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

STATE_LABELS = {
    "draft": "下書き（承認待ち）",
    "approved": "承認済み（未送信）",
    "sending": "配信中",
    "sent": "配信済み",
    "stopped": "停止中",
    "withdrawn": "取り下げ",
}
STATUS_LABELS = {"actual": "本番", "exercise": "訓練", "test": "テスト"}
TOPIC_LABELS = {"disaster": "防災", "event": "イベント", "childcare": "子育て", "garbage": "ごみ"}
KIND_LABELS = {"cancel": "取消", "lift": "解除", "update": "訂正"}
# Resident-facing language names, for the operator's preview (Japanese).
LANG_NAMES = {
    "ja": "日本語",
    "easy": "やさしい日本語",
    "en": "英語",
    "zh": "中国語（簡体字）",
    "zh-Hant": "中国語（繁体字）",
    "ko": "韓国語",
    "vi": "ベトナム語",
    "pt": "ポルトガル語",
}
# Words that mark a drill or test text: such text is never sent as actual.
DRILL_MARKERS = ("訓練", "くんれん", "テスト", "drill", "exercise", "これは試験")
