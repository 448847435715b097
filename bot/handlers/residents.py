"""Follow / unfollow, registration (area, language, topics), 「設定」 and 「配信停止」, disaster mode.

Registration is a short quick-reply dialogue; the step reached is kept in the resident's
row, so a repeated follow (or a follow after unblock) re-asks nothing already known. A typed
answer works like a tap at every step (「みどり1丁目です」, 「English」, 「ごみ」, 「完了」); a
question typed mid-registration is answered and the pending question asked again.
Unfollow deletes the resident's row; only anonymous counters remain.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from linebot.v3.messaging import (
    LocationAction,
    Message,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from alerts.service import active_alerts_for
from bot.context import Ctx
from bot.events import on, on_postback, postback_data
from bot.handlers.chat import (
    ANSWER_PREFIXES,
    REPLY_SUFFIXES,
    TEXT_HANDLERS,
    clip_label,
    command,
    intent,
    postback_buttons,
    small_talk,
)
from bot.language import normalize_lang
from common.areas import Area
from common.i18n import CATALOG, LANGUAGE_NAMES, LANGUAGES, t
from common.line_api import LineApiError
from nlp.normalize import normalize
from store import residents as resident_store
from store.residents import Resident
from store.vocab import TOPIC, Topic

log = logging.getLogger(__name__)

AREAS_PER_PAGE = 11  # + 「次へ」 + 「決めない」 = LINE's 13 quick-reply items
OPT_TOPICS = tuple(topic for topic in Topic if topic != resident_store.ALWAYS_TOPIC)


def areas(ctx: Ctx) -> tuple[tuple[str, str], ...]:
    """(code, Japanese name) of the ward's areas."""
    return tuple(ctx.areas.names().items())


def _lang(ctx: Ctx, resident: Resident | None) -> str:
    return (resident.lang if resident else None) or ctx.lang


def _area_name(ctx: Ctx, code: str | None, lang: str) -> str:
    if not code:
        return t("area_all_name", lang)
    area = ctx.areas.by_code.get(code)
    return area.display(lang) if area else code


def _delivery_key(resident: Resident) -> str:
    if resident.safety_stopped:
        return "delivery_all_off"
    return "delivery_off" if resident.delivery_stopped else "delivery_on"


def summary(ctx: Ctx, resident: Resident) -> str:
    lang = _lang(ctx, resident)
    return t(
        "settings_summary",
        lang,
        area=_area_name(ctx, resident.area, lang),
        language=LANGUAGE_NAMES.get(resident.lang or "ja", resident.lang or "ja"),
        topics="・".join(t(TOPIC.resident_key(x), lang) for x in resident.topics),
        delivery=t(_delivery_key(resident), lang),
    )


# --- the questions ------------------------------------------------------------------------


def ask_area(
    ctx: Ctx, lang: str, page: int = 0, mode: str = "r", only: Sequence[Area] | None = None, key: str = "reg_area_ask"
) -> Message:
    """The area question; ``only``: just these areas (a typed town name that has several 丁目)."""
    all_areas = tuple(only) if only else ctx.areas.all
    start = page * AREAS_PER_PAGE
    shown = all_areas[start : start + AREAS_PER_PAGE]
    items = [(a.display(lang), postback_data(a="area", v=a.code, m=mode), a.display(lang)) for a in shown]
    if not only and start + AREAS_PER_PAGE < len(all_areas):
        items.append((t("reg_next_page", lang), postback_data(a="area_page", p=page + 1, m=mode), None))
    elif not only and page > 0:
        items.append(("◀ 1", postback_data(a="area_page", p=0, m=mode), None))
    items.append((t("reg_area_all", lang), postback_data(a="area", v="*", m=mode), None))
    return TextMessage(text=t(key, lang), quick_reply=postback_buttons(items))


def ask_lang(lang: str, mode: str = "r") -> Message:
    items = [(name, postback_data(a="lang", v=code, m=mode), name) for code, name in LANGUAGE_NAMES.items()]
    return TextMessage(text=t("reg_lang_ask", lang), quick_reply=postback_buttons(items))


def ask_topics(resident: Resident, lang: str, mode: str = "r") -> Message:
    chosen = set(resident.topics)
    items = []
    for topic in OPT_TOPICS:
        mark = "✓ " if topic in chosen else "＋ "
        items.append((mark + t(TOPIC.resident_key(topic), lang), postback_data(a="topic", v=topic, m=mode), None))
    items.append((t("reg_done_label", lang), postback_data(a="reg_done", m=mode), None))
    topics = "・".join(t(TOPIC.resident_key(x), lang) for x in resident.topics)
    return TextMessage(text=t("reg_topics_ask", lang, topics=topics), quick_reply=postback_buttons(items))


def next_question(ctx: Ctx, resident: Resident) -> list[Message]:
    lang = _lang(ctx, resident)
    step = resident.reg_step
    if step == "area":
        return [ask_area(ctx, lang)]
    if step == "lang":
        return [ask_lang(lang)]
    if step == "topics":
        return [ask_topics(resident, lang)]
    return [TextMessage(text=t("reg_done", lang, summary=summary(ctx, resident)))]


def settings_messages(ctx: Ctx, resident: Resident) -> list[Message]:
    lang = _lang(ctx, resident)
    stop = ("restart_label", "restart") if resident.delivery_stopped else ("stop_label", "stop")
    items = [
        (t("settings_area_label", lang), postback_data(a="set", v="area"), None),
        (t("settings_lang_label", lang), postback_data(a="set", v="lang"), None),
        (t("settings_topics_label", lang), postback_data(a="set", v="topics"), None),
        (t(stop[0], lang), postback_data(a="delivery", v=stop[1]), None),
    ]
    return [
        TextMessage(
            text=t("settings_intro", lang) + "\n\n" + summary(ctx, resident), quick_reply=postback_buttons(items)
        )
    ]


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
    if resident is not None and resident.reg_step is None:
        # Known resident (follow again, or after unblock): ask nothing.
        lang = _lang(ctx, resident)
        return [TextMessage(text=t("welcome_back", lang, summary=summary(ctx, resident)))]
    if resident is None:
        lang = None
        try:
            prof = ctx.line.profile(ctx.user_id)
            lang = normalize_lang((prof or {}).get("language"))
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


def _after_change(ctx: Ctx, resident: Resident, mode: str) -> list[Message]:
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
    return _set_area(ctx, resident, code, fields.get("m", "r"))


def _set_area(ctx: Ctx, resident: Resident, code: str, mode: str) -> list[Message]:
    changes: dict[str, Any] = {"area": None if code == "*" else code}
    if resident.reg_step == "area":
        changes["reg_step"] = "lang"
    resident_store.set_resident(ctx.db, ctx.user_id, **changes)
    return _after_change(ctx, resident_store.get_resident(ctx.db, ctx.user_id), mode)


@on_postback("lang")
def choose_lang(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    lang = fields.get("v", "")
    if lang not in LANGUAGES:
        return [ask_lang(_lang(ctx, resident), fields.get("m", "r"))]
    return _set_lang(ctx, resident, lang, fields.get("m", "r"))


def _set_lang(ctx: Ctx, resident: Resident, lang: str, mode: str) -> list[Message]:
    changes: dict[str, Any] = {"lang": lang, "lang_source": "choice"}
    if resident.reg_step == "lang":
        changes["reg_step"] = "topics"
    resident_store.set_resident(ctx.db, ctx.user_id, **changes)
    ctx.lang = lang
    return _after_change(ctx, resident_store.get_resident(ctx.db, ctx.user_id), mode)


@on_postback("topic")
def toggle_topic(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    resident = _ensure(ctx)
    if resident is None:
        return None
    topic = fields.get("v", "")
    topics = set(resident.topics)
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
    return _finish(ctx, resident, fields.get("m", "r"))


def _finish(ctx: Ctx, resident: Resident, mode: str) -> list[Message]:
    if resident.reg_step is not None:
        resident_store.set_resident(ctx.db, ctx.user_id, reg_step=None)
        resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if mode == "s":
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
    if stopped and resident.safety_stopped:
        # Already stopped completely: say so, instead of implying that alerts still arrive.
        items = [(t("restart_label", lang), postback_data(a="delivery", v="restart"), None)]
        return [TextMessage(text=t("safety_stopped_msg", lang), quick_reply=postback_buttons(items))]
    resident_store.set_resident(ctx.db, ctx.user_id, delivery_stopped=stopped)
    if stopped:
        items = [
            (t("restart_label", lang), postback_data(a="delivery", v="restart"), None),
            (t("safety_stop_label", lang), postback_data(a="delivery", v="safety_warn"), None),
        ]
        return [TextMessage(text=t("delivery_stopped_msg", lang), quick_reply=postback_buttons(items))]
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
    return [TextMessage(text=t("safety_stop_warning", lang), quick_reply=postback_buttons(items))]


def _stop_safety(ctx: Ctx) -> list[Message]:
    """The second, explicit step: life-safety alerts stop too (ordinary notices with them)."""
    resident = _ensure(ctx)
    if resident is None:
        return []
    resident_store.set_resident(ctx.db, ctx.user_id, delivery_stopped=True, safety_stopped=True)
    lang = _lang(ctx, resident)
    log.info("resident %s stopped life-safety alerts after the warning", ctx.user_hash)
    items = [(t("restart_label", lang), postback_data(a="delivery", v="restart"), None)]
    return [TextMessage(text=t("safety_stopped_msg", lang), quick_reply=postback_buttons(items))]


@command("設定", "せってい", "settings", "setting")
def settings_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    resident = _ensure(ctx)
    if resident is None:
        return []
    if resident.reg_step is not None:
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


# --- typed answers during registration -----------------------------------------------------

# Other ways residents name a language (besides each language's own name).
_LANGUAGE_ALIASES = {
    "ja": "日本語 にほんご ニホンゴ japanese nihongo 日语 日語 일본어",
    "easy": "やさしい日本語 やさしいにほんご 易しい日本語 優しい日本語 easyjapanese simplejapanese",
    "en": "english 英語 えいご 英语 영어 tiếng anh inglês ingles",
    "zh": "中文 简体中文 簡体中文 中国語 ちゅうごくご chinese 汉语 普通话 중국어",
    "zh-Hant": "繁體中文 繁体中文 繁體 繁体字 台湾 台灣 traditionalchinese",
    "ko": "한국어 韓国語 かんこくご korean 한글 韩语",
    "vi": "tiếng việt tieng viet ベトナム語 vietnamese 越南语",
    "pt": "português portugues ポルトガル語 portuguese 葡萄牙语",
}
_TOPIC_ALIASES = {
    Topic.GARBAGE: "ごみ ゴミ 粗大ごみ 収集 garbage trash rubbish",
    Topic.CHILDCARE: "子育て 子ども こども 子供 育児 保育 child children kids",
    Topic.EVENT: "イベント 催し もよおし 行事 event events",
}
_DONE = re.compile(
    r"^(これで)?(完了|かんりょう|終わり|おわり|終了|以上|決定|ok|okay|done|finish(ed)?|that's all"
    r"|いらない|要らない|不要|なし|無し|no|それでいい|これでいい)[!！。.\s]*$"
)
_SKIP_AREA = re.compile(
    r"^(決めない|きめない|全地域|ぜんぶ|全部|skip|スキップ|わからない|分からない|秘密|ひみつ)[!！。.\s]*$"
)
# A question typed mid-registration is answered as a question (chat), not read as a choice.
_QUESTION = re.compile(
    r"[?？]|どう|どこ|いつ|なに|何|いくら|教えて|ください|how|where|what|when|which|can i|怎么|哪|어디|어떻게"
)
# A short message that says where one lives: an unknown area, not a question.
_LIVES_IN = re.compile(r"^.{1,16}(です|だよ|だ|に住んで.*|在住.*|住み.*)$")


def _alias_table(aliases: dict[str, str], names: dict[str, list[str]]) -> list[tuple[str, str]]:
    table = [(normalize(w).replace(" ", ""), key) for key, words in aliases.items() for w in words.split()]
    table += [(normalize(n).replace(" ", ""), key) for key, ns in names.items() for n in ns]
    return sorted({(w, k) for w, k in table if w}, key=lambda x: -len(x[0]))


_LANGUAGE_TABLE = _alias_table(
    {k: v.replace("tiếng ", "tiếng").replace("tieng ", "tieng") for k, v in _LANGUAGE_ALIASES.items()},
    {k: [v] for k, v in LANGUAGE_NAMES.items()},
)
_TOPIC_TABLE = _alias_table(
    _TOPIC_ALIASES,
    {topic: [c[key] for c in CATALOG.values() if (key := TOPIC.resident_key(topic)) in c] for topic in OPT_TOPICS},
)


def typed_language(normalized: str) -> str | None:
    """The language a typed registration answer names (「English」, 「にほんご」, 「中文で」)."""
    text = normalized.replace(" ", "")
    for word, lang in _LANGUAGE_TABLE:
        if word in text:
            return lang
    return None


def typed_topics(normalized: str) -> set[str]:
    text = normalized.replace(" ", "")
    found = set()
    for word, topic in _TOPIC_TABLE:
        if word in text:
            found.add(topic)
            text = text.replace(word, " ")
    return found


def typed_registration(ctx: Ctx, text: str, normalized: str) -> list[Message] | None:
    """A typed answer to the pending registration question, like the tap it stands for;
    None when the text is not an answer to it (then it is a question: chat answers it)."""
    if not ctx.user_id:
        return None
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    step = resident.reg_step if resident else None
    if step is None or len(normalized) > 30 or _QUESTION.search(normalized):
        return None  # a question: chat answers it and asks the pending question after it
    if step == "topics" and _DONE.match(normalized):  # 「OK」 here means 「これで完了」
        return _finish(ctx, resident, "r")
    if small_talk(normalized):
        return None  # 「了解です」, 「こんにちは」: small talk, then the pending question
    lang = _lang(ctx, resident)
    if step == "area":
        if _SKIP_AREA.match(normalized):
            return _set_area(ctx, resident, "*", "r")
        found = ctx.areas.find(text)
        if len(found) == 1:
            return _set_area(ctx, resident, found[0].code, "r")
        if found:
            return [ask_area(ctx, lang, only=found, key="reg_area_which")]
        if _LIVES_IN.match(normalized):
            return [ask_area(ctx, lang, key="reg_area_unknown")]
        return None
    if step == "lang":
        chosen = typed_language(normalized)
        return _set_lang(ctx, resident, chosen, "r") if chosen else None
    if step == "topics":
        topics = typed_topics(normalized)
        if not topics:
            return None
        resident_store.set_resident(ctx.db, ctx.user_id, topics=sorted(set(resident.topics) | topics))
        return [ask_topics(resident_store.get_resident(ctx.db, ctx.user_id), lang)]
    return None


def pending_question(ctx: Ctx) -> list[Message]:
    """Registration's pending question, asked again after an answer to something else."""
    if not ctx.user_id:
        return []
    resident = resident_store.get_resident(ctx.db, ctx.user_id)
    if resident is None or resident.reg_step is None:
        return []
    return next_question(ctx, resident)


TEXT_HANDLERS.append(typed_registration)
REPLY_SUFFIXES.append(pending_question)


# --- disaster mode --------------------------------------------------------------------------


def disaster_notice(ctx: Ctx) -> list[Message]:
    """While a live Actual alert (level ≥3 or a shelter opening) covers the resident's area,
    put it ahead of every answer, with a 「近くの避難所」 location quick reply."""
    resident = resident_store.get_resident(ctx.db, ctx.user_id) if ctx.user_id else None
    active = active_alerts_for(ctx.db, (resident.area if resident else None))
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
