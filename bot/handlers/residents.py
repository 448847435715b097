"""Follow / unfollow, registration (area, language, topics), 「設定」 and 「配信停止」, disaster mode.

Registration is a short quick-reply dialogue; the step reached is kept in the resident's
row, so a repeated follow (or a follow after unblock) re-asks nothing already known.
Unfollow deletes the resident's row; only anonymous counters remain.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from linebot.v3.messaging import (
    LocationAction,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from bot.context import Ctx
from bot.events import on, on_postback, postback_data
from bot.handlers.chat import ANSWER_PREFIXES, clip_label, command, intent
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, t
from bot.line_api import LineApiError
from store import residents as resident_store

log = logging.getLogger(__name__)

AREAS_PER_PAGE = 11  # + 「次へ」 + 「決めない」 = LINE's 13 quick-reply items
OPT_TOPICS = ("event", "childcare", "garbage")


@lru_cache(maxsize=4)
def _areas_cached(path: str, mtime: float) -> tuple[tuple[str, str], ...]:
    from alerts.service import load_areas

    return tuple((a["code"], a["name"]) for a in load_areas(path))


def areas(ctx: Ctx) -> tuple[tuple[str, str], ...]:
    """(code, name) of the ward's areas, re-read when staff edit areas.csv."""
    path = Path(ctx.config["AREAS_CSV"])
    try:
        return _areas_cached(str(path), path.stat().st_mtime)
    except OSError:
        log.warning("areas.csv cannot be read")
        return ()


def profile_lang(value: str | None) -> str | None:
    """Map a LINE profile language (ja, en, zh-Hans, zh-TW, pt-BR, …) to ours."""
    if not value:
        return None
    v = value.lower()
    if v.startswith("zh"):
        return "zh-Hant" if any(x in v for x in ("hant", "tw", "hk", "mo")) else "zh"
    base = v.split("-")[0]
    return base if base in LANGUAGES else None


def _lang(ctx: Ctx, resident: dict[str, Any] | None) -> str:
    return (resident or {}).get("lang") or ctx.lang


def _qr(items: list[tuple[str, str, str | None]]) -> QuickReply:
    """Quick reply of postback buttons: (label, data, display text)."""
    return QuickReply(
        items=[
            QuickReplyItem(action=PostbackAction(label=clip_label(label), data=data, display_text=shown or label))
            for label, data, shown in items[:13]
        ]
    )


def _area_name(ctx: Ctx, code: str | None, lang: str) -> str:
    if not code:
        return t("area_all_name", lang)
    return dict(areas(ctx)).get(code, code)


def _delivery_key(resident: dict[str, Any]) -> str:
    if resident.get("safety_stopped"):
        return "delivery_all_off"
    return "delivery_off" if resident["delivery_stopped"] else "delivery_on"


def summary(ctx: Ctx, resident: dict[str, Any]) -> str:
    lang = _lang(ctx, resident)
    return t(
        "settings_summary",
        lang,
        area=_area_name(ctx, resident["area"], lang),
        language=LANGUAGE_NAMES.get(resident["lang"] or "ja", resident["lang"] or "ja"),
        topics="・".join(t(f"topic_{x}", lang) for x in resident["topics"]),
        delivery=t(_delivery_key(resident), lang),
    )


# --- the questions ------------------------------------------------------------------------


def ask_area(ctx: Ctx, lang: str, page: int = 0, mode: str = "r") -> Message:
    all_areas = areas(ctx)
    start = page * AREAS_PER_PAGE
    shown = all_areas[start : start + AREAS_PER_PAGE]
    items = [(name, postback_data(a="area", v=code, m=mode), name) for code, name in shown]
    if start + AREAS_PER_PAGE < len(all_areas):
        items.append((t("reg_next_page", lang), postback_data(a="area_page", p=page + 1, m=mode), None))
    elif page > 0:
        items.append(("◀ 1", postback_data(a="area_page", p=0, m=mode), None))
    items.append((t("reg_area_all", lang), postback_data(a="area", v="*", m=mode), None))
    return TextMessage(text=t("reg_area_ask", lang), quick_reply=_qr(items))


def ask_lang(lang: str, mode: str = "r") -> Message:
    items = [(name, postback_data(a="lang", v=code, m=mode), name) for code, name in LANGUAGE_NAMES.items()]
    return TextMessage(text=t("reg_lang_ask", lang), quick_reply=_qr(items))


def ask_topics(resident: dict[str, Any], lang: str, mode: str = "r") -> Message:
    chosen = set(resident["topics"])
    items = []
    for topic in OPT_TOPICS:
        mark = "✓ " if topic in chosen else "＋ "
        items.append((mark + t(f"topic_{topic}", lang), postback_data(a="topic", v=topic, m=mode), None))
    items.append((t("reg_done_label", lang), postback_data(a="reg_done", m=mode), None))
    topics = "・".join(t(f"topic_{x}", lang) for x in resident["topics"])
    return TextMessage(text=t("reg_topics_ask", lang, topics=topics), quick_reply=_qr(items))


def next_question(ctx: Ctx, resident: dict[str, Any]) -> list[Message]:
    lang = _lang(ctx, resident)
    step = resident["reg_step"]
    if step == "area":
        return [ask_area(ctx, lang)]
    if step == "lang":
        return [ask_lang(lang)]
    if step == "topics":
        return [ask_topics(resident, lang)]
    return [TextMessage(text=t("reg_done", lang, summary=summary(ctx, resident)))]


def settings_messages(ctx: Ctx, resident: dict[str, Any]) -> list[Message]:
    lang = _lang(ctx, resident)
    stop = ("restart_label", "restart") if resident["delivery_stopped"] else ("stop_label", "stop")
    items = [
        (t("settings_area_label", lang), postback_data(a="set", v="area"), None),
        (t("settings_lang_label", lang), postback_data(a="set", v="lang"), None),
        (t("settings_topics_label", lang), postback_data(a="set", v="topics"), None),
        (t(stop[0], lang), postback_data(a="delivery", v=stop[1]), None),
    ]
    return [TextMessage(text=t("settings_intro", lang) + "\n\n" + summary(ctx, resident), quick_reply=_qr(items))]


# --- events ---------------------------------------------------------------------------------


def _ensure(ctx: Ctx) -> dict[str, Any] | None:
    if not ctx.user_id:
        return None
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if resident is None:
        resident_store.set_resident(ctx.db, ctx.user_id, reg_step="area", topics=[])
        resident = resident_store.get_resident(ctx.db, ctx.user_id)
    return resident


@on("follow")
def follow(ctx: Ctx, event: Any) -> Sequence[Message]:
    if not ctx.user_id:
        return [TextMessage(text=t("greeting", ctx.lang))]
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if resident is not None and resident["reg_step"] is None:
        # Known resident (follow again, or after unblock): ask nothing.
        lang = _lang(ctx, resident)
        return [TextMessage(text=t("welcome_back", lang, summary=summary(ctx, resident)))]
    if resident is None:
        lang = None
        try:
            prof = ctx.line.profile(ctx.user_id)
            lang = profile_lang((prof or {}).get("language"))
        except LineApiError as err:
            log.info("profile of %s unavailable: %s", ctx.user_hash, err.status)
        resident_store.set_resident(
            ctx.db, ctx.user_id, lang=lang, lang_source="profile" if lang else None, reg_step="area", topics=[]
        )
        resident = resident_store.get_resident(ctx.db, ctx.user_id)
    lang = _lang(ctx, resident)
    return [
        TextMessage(text=t("greeting", lang)),
        TextMessage(text=t("reg_welcome", lang)),
        *next_question(ctx, resident),
    ]


@on("unfollow")
def unfollow(ctx: Ctx, event: Any) -> None:
    if ctx.user_id:
        resident_store.delete_resident(ctx.db, ctx.user_id)
        log.info("resident %s unfollowed: personal data deleted", ctx.user_hash)
    return None


def _after_change(ctx: Ctx, resident: dict[str, Any], mode: str) -> list[Message]:
    if mode == "s":
        return settings_messages(ctx, resident)
    return next_question(ctx, resident)


@on_postback("area_page")
def area_page(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message]:
    resident = _ensure(ctx)
    try:
        page = max(0, int(fields.get("p", "0")))
    except ValueError:
        page = 0
    return [ask_area(ctx, _lang(ctx, resident), page, fields.get("m", "r"))]


@on_postback("area")
def choose_area(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    code = fields.get("v", "")
    valid = {c for c, _ in areas(ctx)}
    if code != "*" and code not in valid:
        return [ask_area(ctx, _lang(ctx, resident), 0, fields.get("m", "r"))]
    changes: dict[str, Any] = {"area": None if code == "*" else code}
    if resident["reg_step"] == "area":
        changes["reg_step"] = "lang"
    resident_store.set_resident(ctx.db, ctx.user_id, **changes)
    return _after_change(ctx, resident_store.get_resident(ctx.db, ctx.user_id), fields.get("m", "r"))


@on_postback("lang")
def choose_lang(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    lang = fields.get("v", "")
    if lang not in LANGUAGES:
        return [ask_lang(_lang(ctx, resident), fields.get("m", "r"))]
    changes: dict[str, Any] = {"lang": lang, "lang_source": "choice"}
    if resident["reg_step"] == "lang":
        changes["reg_step"] = "topics"
    resident_store.set_resident(ctx.db, ctx.user_id, **changes)
    ctx.lang = lang
    return _after_change(ctx, resident_store.get_resident(ctx.db, ctx.user_id), fields.get("m", "r"))


@on_postback("topic")
def toggle_topic(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    topic = fields.get("v", "")
    topics = set(resident["topics"])
    if topic in OPT_TOPICS:
        topics ^= {topic}
        resident_store.set_resident(ctx.db, ctx.user_id, topics=sorted(topics))
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    return [ask_topics(resident, _lang(ctx, resident), fields.get("m", "r"))]


@on_postback("reg_done")
def registration_done(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    if resident["reg_step"] is not None:
        resident_store.set_resident(ctx.db, ctx.user_id, reg_step=None)
        resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if fields.get("m") == "s":
        return settings_messages(ctx, resident)
    return [TextMessage(text=t("reg_done", _lang(ctx, resident), summary=summary(ctx, resident)))]


@on_postback("set")
def change_setting(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    lang = _lang(ctx, resident)
    what = fields.get("v")
    if what == "area":
        return [ask_area(ctx, lang, 0, "s")]
    if what == "lang":
        return [ask_lang(lang, "s")]
    return [ask_topics(resident, lang, "s")]


@on_postback("delivery")
def delivery_postback(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    step = fields.get("v")
    if step == "safety_warn":
        return _safety_warning(ctx)
    if step == "safety_stop":
        return _stop_safety(ctx)
    if step == "safety_keep":
        resident = _ensure(ctx)
        return [TextMessage(text=t("safety_kept_msg", _lang(ctx, resident)))] if resident else []
    return _set_delivery(ctx, stopped=step == "stop")


def _set_delivery(ctx: Ctx, stopped: bool) -> list[Message]:
    """配信停止 stops ordinary notices only, and the reply says exactly which alerts still come."""
    resident = _ensure(ctx)
    if resident is None:
        return []
    lang = _lang(ctx, resident)
    if stopped and resident["safety_stopped"]:
        # Already stopped completely: say so, instead of implying that alerts still arrive.
        items = [(t("restart_label", lang), postback_data(a="delivery", v="restart"), None)]
        return [TextMessage(text=t("safety_stopped_msg", lang), quick_reply=_qr(items))]
    resident_store.set_resident(ctx.db, ctx.user_id, delivery_stopped=stopped)
    if stopped:
        items = [
            (t("restart_label", lang), postback_data(a="delivery", v="restart"), None),
            (t("safety_stop_label", lang), postback_data(a="delivery", v="safety_warn"), None),
        ]
        return [TextMessage(text=t("delivery_stopped_msg", lang), quick_reply=_qr(items))]
    return [TextMessage(text=t("delivery_restarted_msg", lang))]


def _safety_warning(ctx: Ctx) -> list[Message]:
    """The plain warning before life-safety alerts can be stopped too (nothing changes yet)."""
    resident = _ensure(ctx)
    if resident is None:
        return []
    lang = _lang(ctx, resident)
    items = [
        (t("safety_keep_label", lang), postback_data(a="delivery", v="safety_keep"), None),
        (t("safety_stop_confirm_label", lang), postback_data(a="delivery", v="safety_stop"), None),
    ]
    return [TextMessage(text=t("safety_stop_warning", lang), quick_reply=_qr(items))]


def _stop_safety(ctx: Ctx) -> list[Message]:
    """The second, explicit step: life-safety alerts stop too (ordinary notices with them)."""
    resident = _ensure(ctx)
    if resident is None:
        return []
    resident_store.set_resident(ctx.db, ctx.user_id, delivery_stopped=True, safety_stopped=True)
    lang = _lang(ctx, resident)
    log.info("resident %s stopped life-safety alerts after the warning", ctx.user_hash)
    items = [(t("restart_label", lang), postback_data(a="delivery", v="restart"), None)]
    return [TextMessage(text=t("safety_stopped_msg", lang), quick_reply=_qr(items))]


@command("設定", "せってい", "settings", "setting")
def settings_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    resident = _ensure(ctx)
    if resident is None:
        return []
    if resident["reg_step"] is not None:
        return next_question(ctx, resident)
    return settings_messages(ctx, resident)


@command("配信停止", "はいしんていし", "stop", "unsubscribe")
def stop_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    return _set_delivery(ctx, stopped=True)


# 「配信を止めたい」「通知いらない」「お知らせはもう送らないで」 mean 配信停止. 通知 followed by カード/書/票
# is a document (マイナンバーの通知カード, 納税通知書), never this command; the whole message must be
# the request, so questions that merely mention notices still go to the FAQ.
_STOP_OBJECT = (
    r"(?:配信|はいしん|通知(?![カかｶ]|書|票|表|簿|は[が書]|ハガキ|葉書)|つうち(?!かーど|しょ)|お知らせ|おしらせ|"
    r"メッセージ|めっせーじ|line|ライン|らいん|プッシュ|案内|あんない|連絡)"
)
_STOP_VERB = (
    r"(?:止め|とめ|止ま|とま|停止|ていし|いらない|要らない|いりません|要りません|いらん|不要|やめ|辞め|オフ|おふ|off|"
    r"解除|拒否|送らないで|おくらないで|来ないで|こないで|受け取りたくない|うけとりたくない|ストップ|すとっぷ|stop|うるさい)"
)
_STOP_TAIL = (
    r"(?:たい|たいです|たいんですが|たいのですが|て|てください|てくれ|てほしい|てほしいです|てもらえますか|る|ます|"
    r"ください|です|だ|したい|したいです|して|してください|にしたい|にして|にしてください|にする|します)?"
)
_STOP_RE = re.compile(
    rf"^(?:もう|もう、)?(?:line|ライン|らいん|この|ここの|区|区から)?(?:の|から)?{_STOP_OBJECT}(?:を|は|が|も|の)?\s?(?:もう|全部|ぜんぶ|すべて|全て)?\s?{_STOP_VERB}{_STOP_TAIL}[。.!！\s]*$"
    r"|^(?:もう)?(?:送らないで|おくらないで|来ないで|こないで)(?:ください)?[。.!！\s]*$"
    r"|^(?:please )?(?:stop|turn off|no more|unsubscribe)(?: (?:the |all |from )?(?:notifications?|messages?|notices?|alerts?))?"
    r"(?: please)?[.!\s]*$"
)


def is_stop_request(normalized: str) -> bool:
    """Whether a whole (normalized) message asks to stop notices."""
    return len(normalized) <= 40 and _STOP_RE.match(normalized) is not None


@intent(is_stop_request)
def stop_intent(ctx: Ctx, event: Any) -> Sequence[Message]:
    return _set_delivery(ctx, stopped=True)


@command("配信再開", "はいしんさいかい", "restart")
def restart_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    return _set_delivery(ctx, stopped=False)


# --- disaster mode --------------------------------------------------------------------------


def disaster_notice(ctx: Ctx) -> list[Message]:
    """While a live Actual alert (level ≥3 or a shelter opening) covers the resident's area,
    put it ahead of every answer, with a 「近くの避難所」 location quick reply."""
    from alerts.service import active_alerts_for

    resident = resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None
    active = active_alerts_for(ctx.db, (resident or {}).get("area"))
    if not active:
        return []
    lang = ctx.lang  # the language of the answer it precedes
    top = active[0]
    headline = top["headlines"].get(lang) or top["headlines"].get("easy" if lang != "ja" else "ja") or top["headline"]
    quick = QuickReply(
        items=[QuickReplyItem(action=LocationAction(label=clip_label(t("disaster_shelter_label", lang))))]
    )
    return [TextMessage(text=t("disaster_notice", lang, headline=headline), quick_reply=quick)]


ANSWER_PREFIXES.append(disaster_notice)
