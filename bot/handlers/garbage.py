"""ごみ for residents: what category an item is, when it is next collected, the week's calendar.

Item questions compete with the FAQ by score (chat.ANSWER_SOURCES): the sorting list answers
when its best item scores at least ITEM_ANSWER and at least the FAQ's best entry. The area is
the resident's registered one; when there is none it is asked once and remembered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from bot.context import Ctx
from bot.events import on_postback, postback_data
from bot.handlers.chat import ANSWER_SOURCES, clip_text, postback_buttons
from bot.handlers.residents import areas as ward_areas
from common.i18n import t
from garbage import service as garbage_service
from garbage.calendar import area_days, next_collection
from garbage.items import ANSWER_SCORE
from garbage.model import Area, GarbageSet, Rule
from nlp.normalize import normalize
from store import core as core_store
from store import residents as resident_store

log = logging.getLogger(__name__)

_EMPTY = Rule()
ITEM_ANSWER = ANSWER_SCORE
ITEM_SUGGEST = 0.45  # from here to ITEM_ANSWER the items are offered as choices
ALSO_BAND = 0.2  # other items this close to the best are offered too (でんち: 充電式電池 0.61, 乾電池 0.46)
MAX_ALSO = 3
AREAS_PER_PAGE = 12  # + 「次へ」 = LINE's 13 quick-reply items
BULKY_MARK = "粗大"  # a category whose label says 粗大 is booked, not collected on a weekday

# 「明日のごみは？」「今週のごみの日」: the day or days asked about, then ごみ somewhere after.
_CALENDAR = re.compile(
    r"^(?P<when>今日|きょう|本日|明日|あした|あす|明後日|あさって|今週|こんしゅう|来週|らいしゅう)(?:の|は)?.*(?:ごみ|ゴミ|収集)"
)
_WHEN = {
    "今日": ("day", 0),
    "きょう": ("day", 0),
    "本日": ("day", 0),
    "明日": ("day", 1),
    "あした": ("day", 1),
    "あす": ("day", 1),
    "明後日": ("day", 2),
    "あさって": ("day", 2),
    "今週": ("week", 0),
    "こんしゅう": ("week", 0),
    "来週": ("week", 1),
    "らいしゅう": ("week", 1),
}


def _loaded(ctx: Ctx) -> garbage_service.Loaded | None:
    return garbage_service.current(ctx.db, key=str(ctx.store.path))


def _today(ctx: Ctx) -> date:
    return garbage_service.ward_today()


def format_date(day: date, lang: str) -> str:
    weekdays = t("garbage_weekdays", lang).split(",")
    return t("garbage_date", lang, m=day.month, d=day.day, wd=weekdays[day.weekday()])


def _resident_area(ctx: Ctx, gset: GarbageSet) -> tuple[str | None, Area | None]:
    """(area code or 地名, the set's area) of the resident; (None, None) when not chosen."""
    if not ctx.user_id:
        return None, None
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    code = resident.area if resident else None
    if not code:
        return None, None
    return code, garbage_service.resolve_area(gset, code, dict(ward_areas(ctx)))


def ask_area(ctx: Ctx, then: dict[str, Any], page: int = 0) -> Message:
    """The ward's areas that have garbage data, as quick replies; ``then`` says what to answer after."""
    loaded = _loaded(ctx)
    known = {a.name for a in loaded.gset.areas} if loaded else set()
    choices = [(code, name) for code, name in ward_areas(ctx) if name in known or code in known]
    start = page * AREAS_PER_PAGE
    items = [
        (name, postback_data(a="g_area", v=code, **then), name)
        for code, name in choices[start : start + AREAS_PER_PAGE]
    ]
    if start + AREAS_PER_PAGE < len(choices):
        items.append((t("reg_next_page", ctx.lang), postback_data(a="g_area_page", p=page + 1, **then), None))
    elif page > 0:
        items.append(("◀ 1", postback_data(a="g_area_page", p=0, **then), None))
    return TextMessage(text=t("garbage_ask_area", ctx.lang), quick_reply=postback_buttons(items))


# --- items -------------------------------------------------------------------------------------


def item_messages(ctx: Ctx, loaded: garbage_service.Loaded, index: int, also: Sequence[int] = ()) -> list[Message]:
    """Category, notice, the next collection in the resident's area (or the area question)."""
    lang = ctx.lang
    gset = loaded.gset
    item = loaded.entries[index]
    if loaded.is_category(index):
        lines = [f"【{item.label}】" + (f"\n{item.notice}" if item.notice else "")]
    else:
        lines = [t("garbage_item", lang, name=item.name, category=item.label)]
    if item.notice and not loaded.is_category(index):
        lines.append(t("garbage_notice", lang, notice=item.notice))
    quick: list[tuple[str, str, str | None]] = []
    has_days = any(not a.rules.get(item.label, _EMPTY).empty for a in gset.areas)
    ask: Message | None = None
    if not has_days and BULKY_MARK in item.label:
        lines.append(t("garbage_bulky", lang, category=item.label))
        quick.append((t("garbage_bulky_label", lang), postback_data(a="bulky", v="start"), None))
    elif not has_days:
        lines.append(t("garbage_no_schedule", lang, category=item.label))
    else:
        code, area = _resident_area(ctx, gset)
        if code is None:
            ask = ask_area(ctx, {"i": index, "s": loaded.set_id})
        elif area is None:
            lines.append(t("garbage_no_data", lang, area=_area_label(ctx, code)))
        else:
            day = next_collection(gset, area, item.label, _today(ctx))
            rule = area.rules.get(item.label, _EMPTY)
            if day is None:
                lines.append(t("garbage_no_days", lang, area=area.name, category=item.label))
            else:
                lines.append(t("garbage_next", lang, area=area.name, category=item.label, date=format_date(day, lang)))
            lines += [t("garbage_remark", lang, text=gset.remarks[r]) for r in rule.remarks if r in gset.remarks]
    if also:
        names = [gset.items[i].name for i in also]
        lines.append(t("garbage_also", lang, list="、".join(names)))
        quick += [
            (gset.items[i].name, postback_data(a="g_item", i=i, s=loaded.set_id), gset.items[i].name) for i in also
        ]
    if lang != "ja" and t("garbage_data_ja", lang):
        lines.append(t("garbage_data_ja", lang))
    first = TextMessage(text=clip_text("\n".join(lines)), quick_reply=None if ask else postback_buttons(quick))
    return [first, ask] if ask else [first]


def _area_label(ctx: Ctx, code: str) -> str:
    return dict(ward_areas(ctx)).get(code, code)


# --- calendar ----------------------------------------------------------------------------------


def calendar_messages(ctx: Ctx, loaded: garbage_service.Loaded, kind: str, offset: int) -> list[Message]:
    lang = ctx.lang
    code, area = _resident_area(ctx, loaded.gset)
    if code is None:
        return [ask_area(ctx, {"k": kind, "o": offset})]
    if area is None:
        return [TextMessage(text=t("garbage_no_data", lang, area=_area_label(ctx, code)))]
    today = _today(ctx)
    if kind == "day":
        start = end = today + timedelta(days=offset)
    elif offset == 0:
        start, end = today, today + timedelta(days=6 - today.weekday())  # the rest of this week (to Sunday)
    else:
        start = today + timedelta(days=7 - today.weekday())
        end = start + timedelta(days=6)
    days = area_days(loaded.gset, area, start, end)
    lines = [t("garbage_calendar_intro", lang, area=area.name)]
    remarks: list[int] = []
    d = start
    while d <= end:
        labels = days.get(d)
        lines.append(f"{format_date(d, lang)}：{'・'.join(labels) if labels else t('garbage_day_none', lang)}")
        for label in labels or ():
            remarks += [r for r in area.rules[label].remarks if r not in remarks]
        d += timedelta(days=1)
    lines += [t("garbage_remark", lang, text=loaded.gset.remarks[r]) for r in remarks if r in loaded.gset.remarks]
    if lang != "ja" and t("garbage_data_ja", lang):
        lines.append(t("garbage_data_ja", lang))
    quick = []
    resident = resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None
    if resident is not None and "garbage" not in resident.topics:
        quick.append((t("garbage_remind_label", lang), postback_data(a="g_remind"), None))
    return [TextMessage(text=clip_text("\n".join(lines)), quick_reply=postback_buttons(quick))]


# --- routing -----------------------------------------------------------------------------------


def calendar_intent(text: str) -> tuple[str, int] | None:
    m = _CALENDAR.match(normalize(text))
    return _WHEN[m.group("when")] if m else None


def garbage_source(ctx: Ctx, text: str, faq_top: float) -> list[Message] | None:
    """Answer from the garbage data when it fits better than the FAQ (None: let the FAQ answer)."""
    loaded = _loaded(ctx)
    if loaded is None:
        return None
    when = calendar_intent(text)
    if when is not None:
        return calendar_messages(ctx, loaded, *when)
    hits = loaded.items.search(text, k=MAX_ALSO + 1)
    if not hits or hits[0].score < ITEM_SUGGEST or hits[0].score < faq_top:
        return None
    top = hits[0]
    if top.score < ITEM_ANSWER:
        # Close but not sure (「自転車」 → 自転車の空気入れ): offer the items instead of guessing.
        names = [loaded.entries[h.index].name for h in hits]
        lines = [f"{i}. {name}" for i, name in enumerate(names, start=1)]
        quick = [
            (name, postback_data(a="g_item", i=h.index, s=loaded.set_id), name)
            for h, name in zip(hits, names, strict=True)
        ]
        core_store.log_query(ctx.db, normalize(text)[:500], "garbage_suggest", score=round(top.score, 4), lang=ctx.lang)
        return [
            TextMessage(
                text=clip_text(t("garbage_suggest", ctx.lang, list="\n".join(lines))),
                quick_reply=postback_buttons(quick),
            )
        ]
    also = [h.index for h in hits[1:] if h.score >= top.score - ALSO_BAND][:MAX_ALSO]
    core_store.log_query(
        ctx.db,
        normalize(text)[:500],
        "garbage_item",
        faq_id=f"item:{loaded.entries[top.index].name}"[:200],
        score=round(top.score, 4),
        lang=ctx.lang,
    )
    return item_messages(ctx, loaded, top.index, also)


ANSWER_SOURCES.append(garbage_source)


# --- postbacks ----------------------------------------------------------------------------------


def _int(value: str | None, default: int = -1) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _then(ctx: Ctx, loaded: garbage_service.Loaded, fields: dict[str, str]) -> list[Message]:
    """What the area question was asked for: an item's answer or a calendar."""
    if "i" in fields:
        index = _int(fields.get("i"))
        if _int(fields.get("s")) != loaded.set_id or not 0 <= index < len(loaded.entries):
            return [TextMessage(text=t("faq_gone", ctx.lang))]
        return item_messages(ctx, loaded, index)
    kind = fields.get("k", "week")
    return calendar_messages(ctx, loaded, "day" if kind == "day" else "week", max(0, min(_int(fields.get("o"), 0), 2)))


@on_postback("g_item")
def choose_item(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    loaded = _loaded(ctx)
    if loaded is None:
        return [TextMessage(text=t("faq_gone", ctx.lang))]
    return _then(ctx, loaded, {"i": fields.get("i", ""), "s": fields.get("s", "")})


@on_postback("g_area")
def choose_area(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    loaded = _loaded(ctx)
    if loaded is None or not ctx.user_id:
        return None
    code = fields.get("v", "")
    if code not in dict(ward_areas(ctx)):
        return [ask_area(ctx, {k: v for k, v in fields.items() if k in ("i", "s", "k", "o")})]
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if resident is None:
        resident_store.set_resident(ctx.db, ctx.user_id, area=code, topics=[])
    else:
        resident_store.set_resident(ctx.db, ctx.user_id, area=code)
    return _then(ctx, loaded, fields)


@on_postback("g_area_page")
def area_page(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    then = {k: v for k, v in fields.items() if k in ("i", "s", "k", "o")}
    return [ask_area(ctx, then, max(0, _int(fields.get("p"), 0)))]


@on_postback("g_remind")
def remind_on(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    topics = set(resident.topics if resident else ()) | {"garbage"}
    resident_store.set_resident(ctx.db, ctx.user_id, topics=sorted(topics))
    return [TextMessage(text=t("garbage_remind_on", ctx.lang))]
