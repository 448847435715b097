"""Every state and kind vocabulary: the codes the database, JSON and CSV carry, and the words people read.

One table per vocabulary, here in the lowest layer because the SQL of store/ uses the codes. The
codes are `StrEnum`s, so a member *is* its string: rows, JSON exports, Open311 and CLI output keep
the same values (no migration), and a plain string read from the database compares and looks up
equal to the member.

Two audiences read them:
- staff (console, CLI, audit log): Japanese words, in `Vocabulary.staff`;
- residents (LINE): the catalog in common/i18n, in all eight languages, under the keys
  `Vocabulary.residents + code` (this layer may not import the catalog; the vocabulary test checks
  that every key exists in every language).
Where the two audiences read different Japanese words for one code, `Vocabulary.registers` says why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

C = TypeVar("C", bound=StrEnum)


@dataclass(frozen=True)
class Vocabulary(Generic[C]):
    """The codes of one vocabulary, in display order, and the words each audience reads."""

    codes: type[C]
    staff: Mapping[C, str]  # Japanese, for the console, the CLI and the audit log
    residents: str | None = None  # catalog key prefix; None when residents never read these codes
    registers: str = ""  # why residents read other words than staff, when they do

    def __iter__(self) -> Iterator[C]:
        return iter(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self.staff

    def label(self, code: str) -> str:
        """The staff word; an unknown code (a row older than its vocabulary) is shown as it is."""
        return self.staff.get(code, code)  # type: ignore[call-overload]

    def resident_key(self, code: str) -> str:
        """The catalog key of this code's word for residents."""
        if self.residents is None:
            raise LookupError(f"residents never read {self.codes.__name__} codes")
        return f"{self.residents}{self.codes(code).value}"

    def rank(self, code: str) -> int:
        """Position in display order (to sort rows by)."""
        return list(self.codes).index(self.codes(code))

    def labels(self) -> dict[str, str]:
        """code → staff word, in display order (what templates and select boxes take)."""
        return {str(c): self.staff[c] for c in self.codes}


# --- shelters ---------------------------------------------------------------------------------


class ShelterStatus(StrEnum):
    OPEN = "open"
    CROWDED = "crowded"
    FULL = "full"
    CLOSED = "closed"


SHELTER_STATUS = Vocabulary(
    ShelterStatus,
    staff={
        ShelterStatus.OPEN: "開設",
        ShelterStatus.CROWDED: "混雑",
        ShelterStatus.FULL: "満員",
        ShelterStatus.CLOSED: "閉鎖",
    },
    residents="shelter_status_",
    registers=(
        "`closed` is 閉鎖 for staff — opening and closing (開設・閉鎖) are what they do to a shelter — and "
        "未開設 for residents: most closed shelters have not opened *yet*, and 閉鎖 read by someone "
        "looking for a place to go sounds final."
    ),
)
# Shelters that take people in: what residents are sent to.
SHELTER_TAKING_IN = (ShelterStatus.OPEN, ShelterStatus.CROWDED)


# --- residents --------------------------------------------------------------------------------


class Topic(StrEnum):
    DISASTER = "disaster"
    EVENT = "event"
    CHILDCARE = "childcare"
    GARBAGE = "garbage"


TOPIC = Vocabulary(
    Topic,
    staff={Topic.DISASTER: "防災", Topic.EVENT: "イベント", Topic.CHILDCARE: "子育て", Topic.GARBAGE: "ごみ"},
    residents="topic_",
)


# --- alerts -----------------------------------------------------------------------------------


class AlertState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    STOPPED = "stopped"
    WITHDRAWN = "withdrawn"


ALERT_STATE = Vocabulary(
    AlertState,
    staff={
        AlertState.DRAFT: "下書き（承認待ち）",
        AlertState.APPROVED: "承認済み（未送信）",
        AlertState.SENDING: "配信中",
        AlertState.SENT: "配信済み",
        AlertState.STOPPED: "停止中",
        AlertState.WITHDRAWN: "取り下げ",
    },
)
# Not yet sent: may still be edited, approved or withdrawn.
ALERT_UNSENT = (AlertState.DRAFT, AlertState.APPROVED)
# Delivery started: residents may have it, so only a cancellation (取消) can take it back.
ALERT_STARTED = (AlertState.SENDING, AlertState.SENT, AlertState.STOPPED)


class AlertStatus(StrEnum):
    """CAP's status: whether an alert is real."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


ALERT_STATUS = Vocabulary(
    AlertStatus,
    staff={AlertStatus.ACTUAL: "本番", AlertStatus.EXERCISE: "訓練", AlertStatus.TEST: "テスト"},
)


class MsgType(StrEnum):
    """CAP's msgType."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"


MSG_TYPE = Vocabulary(
    MsgType,
    staff={MsgType.ALERT: "発表", MsgType.UPDATE: "訂正", MsgType.CANCEL: "取消"},
)


class AlertKind(StrEnum):
    """What staff call an alert: CAP's msgType, with a lift (解除) told apart from other updates."""

    ALERT = "alert"
    UPDATE = "update"
    LIFT = "lift"
    CANCEL = "cancel"


ALERT_KIND = Vocabulary(
    AlertKind,
    # An ordinary alert carries no mark: its headline says what it is.
    staff={AlertKind.ALERT: "", AlertKind.UPDATE: "訂正", AlertKind.LIFT: "解除", AlertKind.CANCEL: "取消"},
)


# --- delivery (the alert outbox and the shared outbox) ---------------------------------------


class DeliveryState(StrEnum):
    """A batch of messages on its way to LINE."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # LINE refused it for good
    STOPPED = "stopped"  # held back (the channel's quota, an operator's stop)
    WITHDRAWN = "withdrawn"  # never sent: what it belonged to was withdrawn or expired


DELIVERY_STATE = Vocabulary(
    DeliveryState,
    staff={
        DeliveryState.PENDING: "送信待ち",
        DeliveryState.SENT: "送信済み",
        DeliveryState.FAILED: "送れませんでした",
        DeliveryState.STOPPED: "停止",
        DeliveryState.WITHDRAWN: "取り下げ",
    },
)


# --- reports (通報) ---------------------------------------------------------------------------


class ReportStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


REPORT_STATUS = Vocabulary(
    ReportStatus,
    staff={
        ReportStatus.RECEIVED: "受付",
        ReportStatus.IN_PROGRESS: "対応中",
        ReportStatus.DONE: "完了",
        ReportStatus.REJECTED: "対応不可",
        ReportStatus.DUPLICATE: "重複",
    },
    residents="report_status_",
    registers=(
        "staff read a word to sort a queue by; the reporter reads a sentence about their own report "
        "(対応完了, 対応できません, and for a duplicate where it is handled instead)."
    ),
)
REPORT_OPEN = (ReportStatus.RECEIVED, ReportStatus.IN_PROGRESS)
REPORT_CLOSED = (ReportStatus.DONE, ReportStatus.REJECTED, ReportStatus.DUPLICATE)


class Open311Status(StrEnum):
    """GeoReport v2's two words for a report (a published contract), each a group of ReportStatus."""

    OPEN = "open"
    CLOSED = "closed"


OPEN311_STATUS = Vocabulary(Open311Status, staff={Open311Status.OPEN: "未完了", Open311Status.CLOSED: "完了済み"})
OPEN311_GROUPS = {Open311Status.OPEN: REPORT_OPEN, Open311Status.CLOSED: REPORT_CLOSED}


# --- opinions (ご意見) ------------------------------------------------------------------------


class OpinionStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    NO_ACTION = "no_action"


OPINION_STATUS = Vocabulary(
    OpinionStatus,
    staff={
        OpinionStatus.RECEIVED: "受付",
        OpinionStatus.IN_PROGRESS: "対応中",
        OpinionStatus.ANSWERED: "回答済み",
        OpinionStatus.NO_ACTION: "対応なし",
    },
)


class ReplyState(StrEnum):
    """Staff's reply to an opinion: written, then approved by a second person (sent) or rejected."""

    DRAFT = "draft"
    SENT = "sent"
    REJECTED = "rejected"


REPLY_STATE = Vocabulary(
    ReplyState,
    staff={ReplyState.DRAFT: "承認待ち", ReplyState.SENT: "承認済み", ReplyState.REJECTED: "差し戻し"},
)


# --- 粗大ごみ requests -------------------------------------------------------------------------


class BulkyStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


BULKY_STATUS = Vocabulary(
    BulkyStatus,
    staff={BulkyStatus.BOOKED: "受付済み", BulkyStatus.CANCELLED: "取消"},
    residents="bulky_status_",
    registers=(
        "staff's 取消 is the word of the request list and its CSV export (a contract: filters in "
        "Excel rely on it); residents read 取消済み, which says it is done."
    ),
)


# --- surveys (アンケート) ---------------------------------------------------------------------


class SurveyState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"  # sent out and taking answers
    CLOSED = "closed"


SURVEY_STATE = Vocabulary(
    SurveyState,
    staff={
        SurveyState.DRAFT: "下書き（承認待ち）",
        SurveyState.APPROVED: "承認済み（未送信）",
        SurveyState.SENDING: "受付中",
        SurveyState.CLOSED: "締切",
    },
)


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTI = "multi"
    RATING = "rating"
    TEXT = "text"


QUESTION_KIND = Vocabulary(
    QuestionKind,
    staff={
        QuestionKind.SINGLE: "ひとつ選ぶ",
        QuestionKind.MULTI: "いくつでも選ぶ",
        QuestionKind.RATING: "5段階評価",
        QuestionKind.TEXT: "自由記述",
    },
)


# --- the webhook inbox ------------------------------------------------------------------------


class InboxState(StrEnum):
    QUEUED = "queued"
    WORKING = "working"
    DONE = "done"
    EXPIRED = "expired"  # too old to answer when a worker reached it
    FAILED = "failed"


INBOX_STATE = Vocabulary(
    InboxState,
    staff={
        InboxState.QUEUED: "待ち",
        InboxState.WORKING: "処理中",
        InboxState.DONE: "完了",
        InboxState.EXPIRED: "期限切れ",
        InboxState.FAILED: "失敗",
    },
)


# Every vocabulary, for the tests that hold them complete and keep their literals out of product code.
ALL: dict[str, Vocabulary] = {
    "shelter_status": SHELTER_STATUS,
    "topic": TOPIC,
    "alert_state": ALERT_STATE,
    "alert_status": ALERT_STATUS,
    "msg_type": MSG_TYPE,
    "alert_kind": ALERT_KIND,
    "delivery_state": DELIVERY_STATE,
    "report_status": REPORT_STATUS,
    "open311_status": OPEN311_STATUS,
    "opinion_status": OPINION_STATUS,
    "reply_state": REPLY_STATE,
    "bulky_status": BULKY_STATUS,
    "survey_state": SURVEY_STATE,
    "question_kind": QUESTION_KIND,
    "inbox_state": INBOX_STATE,
}
