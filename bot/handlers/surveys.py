"""Survey answers in the chat: taps on quick replies, one question at a time, free text when asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from bot.context import Ctx
from bot.events import on_postback, postback_data
from bot.handlers.chat import _COMMANDS, TEXT_FIRST, clip_label, clip_text
from common.i18n import t
from nlp.normalize import normalize
from store import residents as resident_store
from store import surveys as survey_store
from store.residents import Resident
from store.vocab import QuestionKind
from surveys import service

PENDING_MAX_AGE = 86400.0  # a free-text or multiple-choice answer in progress, kept a day
SKIP_WORDS = {normalize(w) for w in ("スキップ", "すきっぷ", "skip", "やめる", "パス")}


def _text(q: service.Question, lang: str) -> str:
    return q.text.get(lang) or q.text.get("easy" if lang != "ja" else "ja") or q.text["ja"]


def _label(option: dict[str, str], lang: str) -> str:
    return option.get(lang) or option["ja"]


def question_message(survey: dict[str, Any], index: int, lang: str, selected: Sequence[int] = ()) -> dict[str, Any]:
    """One question as a LINE text message (plain JSON: the outbox stores it) with its buttons."""
    q = survey["questions"][index]
    total = len(survey["questions"])
    parts = [f"({index + 1}/{total}) {_text(q, lang)}"]
    if lang != "ja" and lang not in q.text:
        parts.insert(0, t("survey_in_japanese", lang))
    items: list[dict[str, Any]] = []

    def button(label: str, shown: str, **fields: Any) -> dict[str, Any]:
        data = postback_data(s=survey["id"], q=index, **fields)
        return {
            "type": "action",
            "action": {"type": "postback", "label": clip_label(label), "data": data, "displayText": shown[:300]},
        }

    if q.kind in (QuestionKind.SINGLE, QuestionKind.RATING):
        for i, opt in enumerate(q.options):
            items.append(button(_label(opt, lang), _label(opt, lang), a="sv", o=i))
        if q.kind == QuestionKind.RATING:
            parts.append(t("survey_rating_hint", lang))
    elif q.kind == QuestionKind.MULTI:
        for i, opt in enumerate(q.options):
            mark = "✓ " if i in selected else ""
            items.append(button(mark + _label(opt, lang), _label(opt, lang), a="svm", o=i))
        items.append(button(t("survey_done_label", lang), t("survey_done_label", lang), a="svd"))
        parts.append(t("survey_multi_hint", lang))
    else:
        parts.append(t("survey_text_hint", lang))
    message: dict[str, Any] = {"type": "text", "text": clip_text("\n".join(parts))}
    if items:
        message["quickReply"] = {"items": items[:13]}
    return message


def invitation(survey: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """What the outbox sends: the introduction with the first question's buttons."""
    first = question_message(survey, 0, lang)
    intro = t("survey_intro", lang, title=survey["title"], n=len(survey["questions"]))
    first["text"] = clip_text(intro + "\n\n" + first["text"])
    return [first]


def _refusal(ctx: Ctx, outcome: service.Answered) -> list[Message]:
    key = {"closed": "survey_closed", "not_recipient": "survey_not_for_you"}.get(
        outcome.refused or "", "survey_unknown"
    )
    return [TextMessage(text=t(key, ctx.lang))]


def _after(ctx: Ctx, outcome: service.Answered) -> list[Message]:
    if outcome.refused:
        return _refusal(ctx, outcome)
    survey = outcome.survey or {}
    if outcome.next_question is None:
        survey_store.clear_pending(ctx.db, ctx.user_id)
        return [TextMessage(text=t("survey_thanks", ctx.lang, title=survey["title"]))]
    nxt = survey["questions"][outcome.next_question]
    if nxt.kind in (QuestionKind.TEXT, QuestionKind.MULTI):
        survey_store.set_pending(ctx.db, ctx.user_id, survey["id"], outcome.next_question)
    else:
        survey_store.clear_pending(ctx.db, ctx.user_id)
    return [_to_message(question_message(survey, outcome.next_question, ctx.lang))]


def _to_message(raw: dict[str, Any]) -> Message:
    """The plain-JSON question (as the outbox stores it) as an SDK message for a reply."""
    return TextMessage.from_dict(raw)


def _ints(fields: dict[str, str], *names: str) -> tuple[int, ...] | None:
    try:
        values = tuple(int(fields[n]) for n in names)
    except (KeyError, ValueError):
        return None
    # A forged postback with a huge number is just an unknown survey or option.
    return values if all(0 <= v < 10**9 for v in values) else None


def _resident(ctx: Ctx) -> Resident | None:
    return resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None


def _record(ctx: Ctx, survey_id: int, question: int, value: Any) -> list[Message]:
    resident = _resident(ctx)
    # The survey goes on in the resident's own language, whatever language a typed answer is in.
    if resident and resident.lang:
        ctx.lang = resident.lang
    outcome = service.answer(
        ctx.db, survey_id, question, value, ctx.user_id, str(ctx.config.get("SECRET_KEY", "")), resident
    )
    return _after(ctx, outcome)


@on_postback("sv")
def tap(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    nums = _ints(fields, "s", "q", "o")
    if nums is None or not ctx.user_id:
        return [TextMessage(text=t("survey_unknown", ctx.lang))]
    return _record(ctx, nums[0], nums[1], nums[2])


@on_postback("svm")
def toggle(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    """A multiple-choice option tapped: mark or unmark it and show the question again."""
    nums = _ints(fields, "s", "q", "o")
    if nums is None or not ctx.user_id:
        return [TextMessage(text=t("survey_unknown", ctx.lang))]
    survey_id, question, option = nums
    try:
        survey = service.get(ctx.db, survey_id)
    except service.UnknownSurvey:
        return [TextMessage(text=t("survey_unknown", ctx.lang))]
    if not service.is_open(survey):
        return [TextMessage(text=t("survey_closed", ctx.lang))]
    if not survey_store.is_recipient(ctx.db, survey_id, ctx.user_id):
        return [TextMessage(text=t("survey_not_for_you", ctx.lang))]
    if not 0 <= question < len(survey["questions"]) or not 0 <= option < len(survey["questions"][question].options):
        return [TextMessage(text=t("survey_unknown", ctx.lang))]
    pending = survey_store.get_pending(ctx.db, ctx.user_id, PENDING_MAX_AGE)
    selected = (
        set(pending["selected"])
        if pending and pending["survey_id"] == survey_id and pending["question"] == question
        else set()
    )
    selected ^= {option}
    survey_store.set_pending(ctx.db, ctx.user_id, survey_id, question, sorted(selected))
    return [_to_message(question_message(survey, question, ctx.lang, sorted(selected)))]


@on_postback("svd")
def done(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    """「決定」 under a multiple-choice question: record what is marked."""
    nums = _ints(fields, "s", "q")
    if nums is None or not ctx.user_id:
        return [TextMessage(text=t("survey_unknown", ctx.lang))]
    pending = survey_store.get_pending(ctx.db, ctx.user_id, PENDING_MAX_AGE)
    selected = (
        pending["selected"] if pending and pending["survey_id"] == nums[0] and pending["question"] == nums[1] else []
    )
    if not selected:
        return [TextMessage(text=t("survey_choose_first", ctx.lang))]
    return _record(ctx, nums[0], nums[1], selected)


def _free_text(ctx: Ctx, text: str) -> Sequence[Message] | None:
    """The answer to a free-text question the resident was just asked (commands still work)."""
    if not ctx.user_id:
        return None
    pending = survey_store.get_pending(ctx.db, ctx.user_id, PENDING_MAX_AGE)
    if pending is None:
        return None
    normalized = normalize(text)
    if normalized in _COMMANDS:
        return None
    try:
        survey = service.get(ctx.db, pending["survey_id"])
    except service.UnknownSurvey:
        survey_store.clear_pending(ctx.db, ctx.user_id)
        return None
    question = pending["question"]
    if question >= len(survey["questions"]) or survey["questions"][question].kind != QuestionKind.TEXT:
        return None
    if normalized in SKIP_WORDS:
        key = service.respondent_key(ctx.user_id, str(ctx.config.get("SECRET_KEY", "")))
        nxt = service.next_unanswered(ctx.db, survey, key, after=question)
        return _after(ctx, service.Answered(next_question=nxt, survey=survey))
    return _record(ctx, pending["survey_id"], question, text)


TEXT_FIRST.append(_free_text)
