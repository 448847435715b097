"""What the rich menu's tiles do: 「言ったことにする」 postbacks and the disaster menu's commands.

A tile with action `say` sends a postback `a=say&t=<Japanese command>` whose displayText is the
label in the resident's language: the bot answers as if the command had been typed, so one menu
file serves every language and every feature the text router knows — except that a dialogue
waiting for typed text (a report, an opinion, a 粗大ごみ address) never takes a tile as its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from linebot.v3.messaging import Message, QuickReply, QuickReplyItem, TextMessage

from alerts.service import active_alerts_for
from bot.context import Ctx
from bot.events import on_postback
from bot.handlers.chat import _candidate_items, clip_text, command, reply_to_text
from bot.handlers.shelters import ask_location_messages
from common.i18n import t
from store import residents as resident_store

SAY_MAX = 100
DISASTER_CATEGORY = "防災"
MAX_DISASTER_FAQS = 12  # quick replies: 13 at most


@on_postback("say")
def say(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    text = (fields.get("t") or "").strip()[:SAY_MAX]
    return reply_to_text(ctx, text, typed=False) if text else None


def _area_of(ctx: Ctx) -> str | None:
    resident = resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None
    return resident.area if resident else None


@command("避難情報", "ひなんじょうほう", "ひなんの じょうほう", "evacuation info", "evacuation information")
def evacuation_info(ctx: Ctx, text: Any) -> Sequence[Message]:
    """Live orders and shelter openings for the resident's area, with the location button."""
    alerts = active_alerts_for(ctx.db, _area_of(ctx))
    location = ask_location_messages(ctx.lang)[0].quick_reply
    if not alerts:
        return [TextMessage(text=t("menu_evac_none", ctx.lang, contact=ctx.contact()), quick_reply=location)]
    lines = [f"・{a['headlines'].get(ctx.lang) or a['headlines'].get('ja') or a['headline']}" for a in alerts[:10]]
    return [TextMessage(text=clip_text(t("menu_evac_list", ctx.lang, list="\n".join(lines))), quick_reply=location)]


@command("安否確認", "安否", "あんぴ", "安否・連絡先", "safety", "safety & contacts")
def safety_contacts(ctx: Ctx, text: Any) -> Sequence[Message]:
    return [TextMessage(text=t("menu_safety", ctx.lang, phone=ctx.config["CONTACT_PHONE"]))]


@command("災害時のよくある質問", "さいがいの しつもん", "災害のよくある質問", "disaster faq")
def disaster_faq(ctx: Ctx, text: Any) -> Sequence[Message]:
    """The FAQ entries of the disaster category, one tap each."""
    entries = [e for e in ctx.faq.current().index.entries if DISASTER_CATEGORY in (e.category or "")]
    if not entries:
        return reply_to_text(ctx, "避難所")
    lines, items = _candidate_items(ctx, entries[:MAX_DISASTER_FAQS], None)
    quick = QuickReply(items=[QuickReplyItem(action=i.action) for i in items])
    return [TextMessage(text=clip_text(t("menu_disaster_faq", ctx.lang, list="\n".join(lines))), quick_reply=quick)]
