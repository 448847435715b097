"""Surveys (アンケート): create, approve (a second person), send through the outbox, answer, results.

A survey has 1–10 questions, each `single` (2–13 options: LINE's quick-reply limit), `multi`
(2–12 options plus 「決定」), `rating` (1–5) or `text`. Residents answer in the chat one question
at a time by tapping quick replies; the invitation carries the first question, each answer's
reply the next. The postback names only the survey, question and option — the answer is
recorded for whoever tapped, and only residents the survey was sent to can answer, so a
forwarded or copied button cannot answer for someone else. A later tap on the same question
replaces the answer; each resident counts once (a pseudonym per resident).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from store import audit, transaction
from store import outbox as outbox_store
from store import residents as resident_store
from store import surveys as store
from store.residents import Resident
from store.vocab import QUESTION_KIND, SURVEY_STATE, DeliveryState, QuestionKind, SurveyState

KIND = "survey"
MAX_QUESTIONS = 10
MAX_OPTIONS = 13  # LINE: 13 quick-reply items
OPTION_MAX = 20  # LINE: quick-reply label ≤ 20 characters
QUESTION_MAX = 500
TITLE_MAX = 100
TEXT_ANSWER_MAX = 1000
RATING = ("1", "2", "3", "4", "5")


class SurveyError(Exception):
    """Base of survey errors; str() is a Japanese sentence for staff."""


class InvalidSurvey(SurveyError):
    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("入力に誤りがあります: " + " / ".join(self.problems))


class UnknownSurvey(SurveyError):
    def __init__(self, survey_id: int):
        super().__init__(f"アンケート {survey_id} は見つかりません。")


class SelfApproval(SurveyError):
    def __init__(self) -> None:
        super().__init__("作成した本人は承認できません。別の担当者が承認してください。")


class WrongState(SurveyError):
    def __init__(self, state: str, doing: str):
        super().__init__(f"このアンケートは「{SURVEY_STATE.label(state)}」なので{doing}できません。")


@dataclass(frozen=True)
class Question:
    kind: str
    text: dict[str, str]  # lang → question text ("ja" always)
    options: list[dict[str, str]]  # each option: lang → label ("ja" always)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "options": self.options}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        return cls(data["kind"], dict(data["text"]), [dict(o) for o in data.get("options", [])])


def respondent_key(user_id: str, secret: str) -> str:
    """The pseudonym answers are stored under (a keyed hash: not reversible without the key)."""
    return hmac.new(secret.encode(), f"survey:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def make_question(
    kind: str, text: str, options: Sequence[str] = (), translations: Mapping[str, Any] | None = None
) -> Question:
    """A question from Japanese text and options (translations: {lang: {"text", "options"}})."""
    texts = {"ja": (text or "").strip()}
    opts: list[dict[str, str]] = [{"ja": (o or "").strip()} for o in options]
    if kind == QuestionKind.RATING:
        opts = [{"ja": r} for r in RATING]
    for lang, tr in (translations or {}).items():
        if tr.get("text"):
            texts[lang] = str(tr["text"]).strip()
        for i, label in enumerate(tr.get("options") or []):
            if i < len(opts) and label and kind != QuestionKind.RATING:
                opts[i][lang] = str(label).strip()
    return Question(kind, texts, opts)


def validate(title: str, questions: Sequence[Question]) -> list[str]:
    problems = []
    if not title.strip():
        problems.append("タイトルを入れてください")
    elif len(title) > TITLE_MAX:
        problems.append(f"タイトルは {TITLE_MAX} 文字までです")
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        problems.append(f"質問は 1〜{MAX_QUESTIONS} 問です（{len(questions)} 問）")
    for n, q in enumerate(questions, start=1):
        if q.kind not in QUESTION_KIND:
            problems.append(f"質問{n}: 種類が不明です（{q.kind}）")
            continue
        if not q.text.get("ja"):
            problems.append(f"質問{n}: 質問文を入れてください")
        if any(len(t) > QUESTION_MAX for t in q.text.values()):
            problems.append(f"質問{n}: 質問文は {QUESTION_MAX} 文字までです")
        if q.kind in (QuestionKind.SINGLE, QuestionKind.MULTI):
            limit = MAX_OPTIONS if q.kind == QuestionKind.SINGLE else MAX_OPTIONS - 1  # multi keeps one button for 決定
            if not 2 <= len(q.options) <= limit:
                problems.append(
                    f"質問{n}: 選択肢は 2〜{limit} 個です（{len(q.options)} 個。LINE のボタンは 13 個までのため）"
                )
            for i, opt in enumerate(q.options, start=1):
                if not opt.get("ja"):
                    problems.append(f"質問{n} 選択肢{i}: 空です")
                for lang, label in opt.items():
                    if len(label) > OPTION_MAX:
                        problems.append(f"質問{n} 選択肢{i}（{lang}）: {OPTION_MAX} 文字までです（ボタンに入りません）")
            labels = [o.get("ja") for o in q.options]
            if len(set(labels)) != len(labels):
                problems.append(f"質問{n}: 同じ選択肢が2つあります")
    return problems


def create(
    db: Database,
    title: str,
    questions: Sequence[Question],
    by: str,
    areas: Sequence[str] = (),
    langs: Sequence[str] = (),
    topics: Sequence[str] = (),
    closes_at: float | None = None,
    source: str = "cli",
) -> int:
    problems = validate(title, questions)
    if closes_at is not None and closes_at <= time.time():
        problems.append("締切は未来の日時にしてください")
    if problems:
        raise InvalidSurvey(problems)
    with transaction(db):
        survey_id = store.insert_survey(
            db,
            {
                "title": title.strip(),
                "questions": [q.to_dict() for q in questions],
                "areas": list(areas),
                "langs": list(langs),
                "topics": list(topics),
                "created_by": by,
                "closes_at": closes_at,
            },
        )
        audit.record(
            db, by, "survey.create", f"survey:{survey_id}", {"title": title, "questions": len(questions)}, source
        )
    return survey_id


class SurveyView(store.Survey):
    """A survey with its questions as `Question`s and the state word staff read (a new dict)."""

    state_label: str


def get(db: Database, survey_id: int) -> SurveyView:
    survey = store.get_survey(db, survey_id)
    if survey is None:
        raise UnknownSurvey(survey_id)
    return SurveyView(
        **{**survey, "questions": [Question.from_dict(q) for q in survey["questions"]]},
        state_label=SURVEY_STATE.label(survey["state"]),
    )


def approve(db: Database, survey_id: int, by: str, source: str = "cli") -> None:
    survey = get(db, survey_id)
    if survey["created_by"].casefold() == by.casefold():
        audit.record(db, by, "survey.approve_refused", f"survey:{survey_id}", None, source)
        raise SelfApproval()
    if not store.update_survey(
        db, survey_id, (SurveyState.DRAFT,), state=SurveyState.APPROVED, approved_by=by, approved_at=time.time()
    ):
        raise WrongState(survey["state"], "承認")
    audit.record(db, by, "survey.approve", f"survey:{survey_id}", None, source)


def audience(db: Database, survey: Mapping[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(user_id, lang, area) of everyone the targeting reaches (配信停止 residents are not asked)."""
    return list(resident_store.iter_recipients(db, survey["areas"], survey["langs"], survey["topics"]))


def start_sending(db: Database, survey_id: int, by: str, messages_for: Any, source: str = "cli") -> int:
    """Fix the recipients and queue the invitations (one outbox batch per language and 500 people).

    `messages_for(survey, lang)` renders the invitation (bot.handlers.surveys) — kept outside so
    this module stays free of LINE message types. Returns the number of recipients.
    """
    survey = get(db, survey_id)
    if survey["state"] != SurveyState.APPROVED:
        raise WrongState(survey["state"], "送信")
    groups: dict[str, list[str]] = defaultdict(list)
    with transaction(db):
        if not store.update_survey(
            db, survey_id, (SurveyState.APPROVED,), state=SurveyState.SENDING, sent_by=by, sent_at=time.time()
        ):
            raise WrongState(SurveyState.SENDING, "送信")
        for user_id, lang, _area in audience(db, survey):
            groups[lang or "ja"].append(user_id)
        store.add_recipients(db, survey_id, (u for ids in groups.values() for u in ids))
        outbox_store.enqueue_multicast(
            db, KIND, survey_id, {lang: (messages_for(survey, lang), ids) for lang, ids in groups.items()}
        )
        total = sum(len(v) for v in groups.values())
        audit.record(db, by, "survey.send", f"survey:{survey_id}", {"recipients": total}, source)
    return total


def close(db: Database, survey_id: int, by: str, source: str = "cli") -> int:
    """Stop taking answers; invitations not sent yet are withdrawn. Returns how many were withdrawn."""
    survey = get(db, survey_id)
    if survey["state"] == SurveyState.CLOSED:
        raise WrongState(survey["state"], "締切")
    with transaction(db):
        store.update_survey(
            db, survey_id, tuple(SurveyState), state=SurveyState.CLOSED, closed_by=by, closed_at=time.time()
        )
        withdrawn = outbox_store.withdraw(db, KIND, survey_id)
        audit.record(db, by, "survey.close", f"survey:{survey_id}", {"withdrawn_batches": withdrawn}, source)
    return withdrawn


def close_due(db: Database) -> list[int]:
    """Close the surveys whose deadline passed (the worker calls this)."""
    closed = []
    for survey_id in store.due_to_close(db):
        try:
            close(db, survey_id, "system", source="worker")
            closed.append(survey_id)
        except WrongState:
            pass
    return closed


def is_open(survey: Mapping[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return survey["state"] == SurveyState.SENDING and (survey["closes_at"] is None or survey["closes_at"] > now)


# --- results -------------------------------------------------------------------------------------


def results(db: Database, survey_id: int) -> dict[str, Any]:
    """Counts per question and option, overall and by area and language; `sent` = invitations that went."""
    survey = get(db, survey_id)
    rows = store.answers(db, survey_id)
    delivered = outbox_store.counts(db, KIND, survey_id)
    per_question = []
    for qi, q in enumerate(survey["questions"]):
        labels = [o["ja"] for o in q.options]
        counts: Counter[str] = Counter()
        by_area: dict[str, Counter[str]] = defaultdict(Counter)
        by_lang: dict[str, Counter[str]] = defaultdict(Counter)
        texts: list[str] = []
        n = 0
        for r in rows:
            if r["question"] != qi:
                continue
            n += 1
            chosen = _labels(q, r["answer"])
            if q.kind == QuestionKind.TEXT:
                texts.append(str(r["answer"]))
            for label in chosen:
                counts[label] += 1
                by_area[r["area"] or "-"][label] += 1
                by_lang[r["lang"] or "ja"][label] += 1
        per_question.append(
            {
                "index": qi,
                "kind": q.kind,
                "text": q.text["ja"],
                "labels": labels,
                "n": n,
                "counts": {label: counts.get(label, 0) for label in labels},
                "by_area": {a: dict(c) for a, c in sorted(by_area.items())},
                "by_lang": {lang: dict(c) for lang, c in sorted(by_lang.items())},
                "texts": texts,
            }
        )
    first = per_question[0] if per_question else {"counts": {}}
    return {
        "id": survey_id,
        "title": survey["title"],
        "state": survey["state"],
        "sent": delivered[DeliveryState.SENT],
        "pending": delivered[DeliveryState.PENDING],
        "failed": delivered[DeliveryState.FAILED] + delivered[DeliveryState.STOPPED],
        "recipients": store.count_recipients(db, survey_id),
        "answered": store.count_respondents(db, survey_id),
        "counts": first["counts"],
        "questions": per_question,
    }


def _labels(q: Question, answer: Any) -> list[str]:
    """Option labels (Japanese) an answer chose: an index, a list of indexes, or free text."""
    if q.kind == QuestionKind.TEXT:
        return []
    picks = answer if isinstance(answer, list) else [answer]
    return [q.options[i]["ja"] for i in picks if isinstance(i, int) and 0 <= i < len(q.options)]


def results_csv(db: Database, survey_id: int) -> bytes:
    """One row per answer (pseudonymous respondent), formula-safe, UTF-8 with BOM for Excel."""
    survey = get(db, survey_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["回答者（仮名）", "質問番号", "質問", "回答", "地域", "言語", "回答日時(UTC)"])
    for r in store.answers(db, survey_id):
        q = survey["questions"][r["question"]]
        answer = str(r["answer"]) if q.kind == QuestionKind.TEXT else " / ".join(_labels(q, r["answer"]))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["answered_at"]))
        writer.writerow(
            [
                _safe(v)
                for v in (
                    r["respondent"][:12],
                    r["question"] + 1,
                    q.text["ja"],
                    answer,
                    r["area"] or "",
                    r["lang"] or "",
                    stamp,
                )
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _safe(value: Any) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- answering -----------------------------------------------------------------------------------


@dataclass
class Answered:
    """What the bot says after a tap: the next question index (None: done), or why it was refused."""

    refused: str | None = None  # closed | not_recipient | unknown | bad
    replaced: bool = False
    next_question: int | None = None
    survey: dict[str, Any] | None = None


def answer(
    db: Database,
    survey_id: int,
    question: int,
    value: Any,
    user_id: str,
    secret: str,
    resident: Resident | None,
) -> Answered:
    """Record one answer for the resident who tapped (never for anyone named in the postback)."""
    try:
        survey = get(db, survey_id)
    except UnknownSurvey:
        return Answered(refused="unknown")
    if not is_open(survey):
        return Answered(refused="closed", survey=survey)
    if not store.is_recipient(db, survey_id, user_id):
        return Answered(refused="not_recipient", survey=survey)
    if not 0 <= question < len(survey["questions"]):
        return Answered(refused="bad", survey=survey)
    q = survey["questions"][question]
    clean = _clean(q, value)
    if clean is None:
        return Answered(refused="bad", survey=survey)
    key = respondent_key(user_id, secret)
    replaced = store.record_answer(
        db, survey_id, key, question, clean, resident.area if resident else None, resident.lang if resident else None
    )
    return Answered(replaced=replaced, next_question=next_unanswered(db, survey, key, after=question), survey=survey)


def next_unanswered(db: Database, survey: Mapping[str, Any], respondent: str, after: int) -> int | None:
    """The next question this resident has not answered (after `after`, then from the start)."""
    done = store.answered_questions(db, survey["id"], respondent)
    n = len(survey["questions"])
    later = [i for i in range(after + 1, n) if i not in done]
    return later[0] if later else None


def _clean(q: Question, value: Any) -> Any:
    if q.kind == QuestionKind.TEXT:
        text = str(value or "").strip()
        return text[:TEXT_ANSWER_MAX] if text else None
    if q.kind == QuestionKind.MULTI:
        picks = sorted({int(v) for v in value}) if isinstance(value, Iterable) and not isinstance(value, str) else []
        return picks if picks and all(0 <= p < len(q.options) for p in picks) else None
    try:
        idx = int(value)
    except (TypeError, ValueError):
        return None
    return idx if 0 <= idx < len(q.options) else None
