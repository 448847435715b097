"""Opinions in the chat: 「意見」/「提案」/the menu → topic → text → photo? → reply wanted? → confirm → number."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from linebot.v3.messaging import (
    CameraAction,
    CameraRollAction,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from bot.context import Ctx
from bot.events import on_postback, postback_data
from bot.handlers import reports as report_handlers
from bot.handlers.chat import _COMMANDS, TEXT_FIRST, clip_label, clip_text, command
from common.i18n import t
from nlp.normalize import normalize
from opinions import service
from reports import images
from reports.service import Settings as ReportSettings
from store import residents as resident_store
from surveys.service import respondent_key

log = logging.getLogger(__name__)
OPINION_WORDS = (
    "意見",
    "ご意見",
    "提案",
    "ご提案",
    "要望",
    "ご意見・ご提案",
    "いけん",
    "ていあん",
    "opinion",
    "feedback",
    "suggestion",
)
CANCEL_WORDS = {normalize(w) for w in ("やめる", "やめます", "キャンセル", "中止", "cancel", "stop opinion")}
NO_PHOTO_WORDS = {
    normalize(w) for w in ("写真なし", "なし", "ない", "ありません", "no photo", "no", "skip", "スキップ")
}
YES_WORDS = {normalize(w) for w in ("はい", "希望する", "yes")}
NO_WORDS = {normalize(w) for w in ("いいえ", "希望しない", "不要", "no")}


@lru_cache(maxsize=4)
def _topics_cached(path: str) -> dict[str, service.Topic]:
    return service.load_topics(path)


def topics(ctx: Ctx) -> dict[str, service.Topic]:
    return _topics_cached(str(ctx.config["OPINION_TOPICS_CSV"]))


def _pb(label: str, shown: str, **fields: Any) -> QuickReplyItem:
    return QuickReplyItem(
        action=PostbackAction(label=clip_label(label), data=postback_data(a="op", **fields), display_text=shown[:300])
    )


def _lang(ctx: Ctx) -> str:
    resident = resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None
    return (resident.lang if resident else None) or ctx.lang


def render(ctx: Ctx, step: service.Step) -> list[Message]:
    """The bot's side of each step, in the resident's language."""
    lang = ctx.lang
    draft = step.draft or {}
    tops = topics(ctx)
    items: list[QuickReplyItem] = []
    fields = dict(step.fields)
    if step.key == "opinion_ask_topic":
        items = [_pb(tp.name(lang), tp.name(lang), s="topic", t=tp.code) for tp in list(tops.values())[:12]]
        items.append(_pb(t("opinion_cancel_label", lang), t("opinion_cancel_label", lang), s="cancel"))
    elif step.key == "opinion_ask_text":
        fields["topic"] = tops[draft["topic"]].name(lang) if draft.get("topic") in tops else ""
        items = [_pb(t("opinion_cancel_label", lang), t("opinion_cancel_label", lang), s="cancel")]
    elif step.key == "opinion_ask_photo":
        items = [
            QuickReplyItem(action=CameraRollAction(label=clip_label(t("opinion_photo_roll", lang)))),
            QuickReplyItem(action=CameraAction(label=clip_label(t("opinion_photo_camera", lang)))),
            _pb(t("opinion_no_photo", lang), t("opinion_no_photo", lang), s="nophoto"),
        ]
    elif step.key == "opinion_ask_reply":
        items = [
            _pb(t("opinion_reply_yes", lang), t("opinion_reply_yes", lang), s="reply", v=1),
            _pb(t("opinion_reply_no", lang), t("opinion_reply_no", lang), s="reply", v=0),
        ]
    elif step.key in ("opinion_confirm", "opinion_resume"):
        topic = tops.get(draft.get("topic", ""))
        fields.update(
            topic=topic.name(lang) if topic else "-",
            text=_excerpt(draft.get("text", "")),
            photo=t("opinion_photo_yes" if draft.get("photo") else "opinion_photo_none", lang),
            reply=t("opinion_reply_yes" if draft.get("wants_reply") else "opinion_reply_no", lang),
        )
        if step.key == "opinion_confirm":
            items = [
                _pb(t("opinion_send_label", lang), t("opinion_send_label", lang), s="send"),
                _pb(t("opinion_edit_label", lang), t("opinion_edit_label", lang), s="edit"),
                _pb(t("opinion_cancel_label", lang), t("opinion_cancel_label", lang), s="cancel"),
            ]
        else:
            items = [
                _pb(t("opinion_continue_label", lang), t("opinion_continue_label", lang), s="resume"),
                _pb(t("opinion_restart_label", lang), t("opinion_restart_label", lang), s="restart"),
            ]
    message = TextMessage(text=clip_text(t(step.key, lang, **fields)))
    if items:
        message.quick_reply = QuickReply(items=items)
    return [message]


def _excerpt(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _author(ctx: Ctx) -> str:
    # The pseudonym staff see: the same keyed hash family as survey answers, shortened.
    return respondent_key(ctx.user_id, str(ctx.config.get("SECRET_KEY", "")))[:10]


@command(*OPINION_WORDS)
def start(ctx: Ctx, text: Any) -> Sequence[Message]:
    if not ctx.user_id:
        return [TextMessage(text=t("unsupported", ctx.lang))]
    ctx.lang = _lang(ctx)
    return render(ctx, service.start(ctx.db, ctx.user_id))


@on_postback("op")
def button(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    ctx.lang = _lang(ctx)
    db, uid, step = ctx.db, ctx.user_id, fields.get("s", "")
    if step == "topic":
        out = service.choose_topic(db, uid, topics(ctx), fields.get("t", ""))
    elif step == "nophoto":
        out = service.skip_photo(db, uid)
    elif step == "reply":
        out = service.wants_reply(db, uid, fields.get("v") == "1")
    elif step == "send":
        resident = resident_store.get_resident(db, uid)
        out = service.submit(db, uid, _author(ctx), topics(ctx), resident, ctx.lang)
        if out.key.startswith("opinion_received"):
            log.info("opinion received (user %s)", ctx.user_hash)
    elif step == "edit":
        out = service.edit(db, uid)
    elif step == "cancel":
        out = service.cancel(db, uid) or service.Step("opinion_cancelled")
    elif step == "resume":
        out = service.resume(db, uid)
    elif step == "restart":
        out = service.restart(db, uid)
    else:
        return None
    return render(ctx, out)


def _text_first(ctx: Ctx, text: str) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    normalized = normalize(text)
    draft = service.store.get_draft(ctx.db, ctx.user_id, service.DRAFT_MAX_AGE)
    if draft is None or normalized in {normalize(w) for w in OPINION_WORDS}:
        return None
    ctx.lang = _lang(ctx)
    if normalized in CANCEL_WORDS:
        return render(ctx, service.cancel(ctx.db, ctx.user_id) or service.Step("opinion_cancelled"))
    step = draft.get("step")
    if step == "photo" and normalized in NO_PHOTO_WORDS:
        return render(ctx, service.skip_photo(ctx.db, ctx.user_id))
    if step == "reply" and (normalized in YES_WORDS or normalized in NO_WORDS):
        return render(ctx, service.wants_reply(ctx.db, ctx.user_id, normalized in YES_WORDS))
    if step == "text" and normalized in _COMMANDS:
        return None  # 設定, 避難所…: commands still work while the text is being asked for
    out = service.text(ctx.db, ctx.user_id, topics(ctx), text)
    return render(ctx, out) if out is not None else None


def _image_first(ctx: Ctx, event: Any) -> Sequence[Message] | None:
    """The optional photo of an opinion: EXIF stripped and stored like report photos."""
    if not service.expecting_photo(ctx.db, ctx.user_id):
        return None
    ctx.lang = _lang(ctx)
    provider = getattr(getattr(event.message, "content_provider", None), "type", "line")
    if getattr(provider, "value", provider) != "line":
        return [TextMessage(text=t("opinion_photo_failed", ctx.lang))]
    data, _problem = report_handlers.fetch_content(ctx, event.message.id)
    if data is None:
        return [TextMessage(text=t("opinion_photo_failed", ctx.lang))]
    try:
        photo = images.process(data)
    except images.PhotoError:
        return [TextMessage(text=t("opinion_photo_failed", ctx.lang))]
    media = ReportSettings.from_config(ctx.config, ctx.areas).media
    full, thumb = media.put(photo.full), media.put(photo.thumb)
    out = service.photo(ctx.db, ctx.user_id, full, thumb)
    return render(ctx, out) if out is not None else None


def reply_messages(lang: str):
    """Staff's reply as the resident reads it: a header in their language, then the text."""

    def make(opinion: dict[str, Any], body: str) -> list[dict[str, Any]]:
        header = t("opinion_reply_header", opinion.get("lang") or lang, number=service.receipt(opinion["id"]))
        return [{"type": "text", "text": clip_text(header + "\n\n" + body)}]

    return make


TEXT_FIRST.append(_text_first)
report_handlers.IMAGE_FIRST.append(_image_first)
