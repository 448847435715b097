"""Text questions: commands, small talk, then the FAQ (answer / もしかして / fallback)."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from linebot.v3.messaging import Message, PostbackAction, QuickReply, QuickReplyItem, TextMessage

from bot.context import Ctx
from bot.events import on, on_postback, postback_data
from bot.urgent import UrgentTopic, find_urgent, load_urgent
from common.i18n import t
from faq.decide import Decision
from faq.model import FaqEntry
from nlp.language import clip_utf16, utf16_len
from nlp.normalize import normalize
from store import core as core_store

log = logging.getLogger(__name__)

LABEL_MAX = 20  # LINE's quick-reply label limit
MAX_ALSO = 3  # runner-ups and referenced entries offered under an answer
DISPLAY_TEXT_MAX = 300
TEXT_MAX = 5000  # UTF-16 code units

Command = Callable[[Ctx, Any], Sequence[Message]]
_COMMANDS: dict[str, Command] = {}
# Commands reached by a pattern on the normalized message (e.g. 「通知いらない」 = 配信停止), tried
# after the exact commands and before FAQ retrieval, so an intent never becomes an FAQ answer.
_INTENTS: list[tuple[Callable[[str], bool], Command]] = []
# Notices put ahead of answers while something urgent is active (disaster mode).
ANSWER_PREFIXES: list[Callable[[Ctx], list[Message]]] = []
# Dialogues that take free text while they are in progress (a report's address or
# description); each returns None when it has nothing to do with this resident.
TEXT_FIRST: list[Callable[[Ctx, str], Sequence[Message] | None]] = []
# Other answer sources (the garbage sorting list) compete with the FAQ by score: each gets the
# text and the FAQ's top score and returns its reply when it fits better, else None.
ANSWER_SOURCES: list[Callable[[Ctx, str, float], list[Message] | None]] = []
# Handlers of free text tried after commands and urgent topics, before small talk and the
# FAQ: (ctx, text, normalized) → the reply, or None when the text is not theirs
# (a typed registration answer, 「若葉の避難所」, "nearest shelter").
TEXT_HANDLERS: list[Callable[[Ctx, str, str], list[Message] | None]] = []
# Messages put after a small-talk or FAQ reply (registration's pending question, so that a
# resident who asks something first is not dropped out of registration).
REPLY_SUFFIXES: list[Callable[[Ctx], list[Message]]] = []

_SMALL_TALK = (
    (
        "help",
        re.compile(
            r"^(ヘルプ|へるぷ|help|使い方|つかいかた|メニュー|menu|\?|？|帮助|幫助|도움말|trợ giúp|tro giup|ajuda)$"
        ),
    ),
    (
        "greeting",
        re.compile(
            r"^(こんにちは|こんにちわ|こんばんは|こんばんわ|おはよう(ございます)?|はじめまして|hello|hi|hey|やあ|どうも"
            r"|你好|您好|안녕하세요|안녕|xin chào|xin chao|chào|olá|ola|oi|bom dia|boa tarde)[!！。.\s]*$"
        ),
    ),
    (
        "ack",
        re.compile(
            r"^(ok|okay|おk|オッケー|おっけー|了解(です|しました)?|りょうかい(です)?|承知(しました)?|わかりました|分かりました"
            r"|はい|うん|いいね|よろしく(お願いします)?|笑|w+|ｗ+|好的|收到|네|알겠습니다|vâng|dạ|ok nhé|certo|beleza)[!！。.\s]*$"
        ),
    ),
    (
        "thanks",
        re.compile(
            r"^(ありがとう(ございます|ございました)?|ありがと|助かりました|たすかりました|thanks?( you)?|thx|サンキュー"
            r"|谢谢|謝謝|감사합니다|고맙습니다|cảm ơn|cam on|obrigad[oa])[!！。.\s]*$"
        ),
    ),
)


def command(*words: str) -> Callable[[Command], Command]:
    """Register a text command (matched on the normalized whole message)."""

    def deco(fn: Command) -> Command:
        for w in words:
            _COMMANDS[normalize(w)] = fn
        return fn

    return deco


def intent(matches: Callable[[str], bool]) -> Callable[[Command], Command]:
    """Register a command reached when `matches(normalized message)` is true."""

    def deco(fn: Command) -> Command:
        _INTENTS.append((matches, fn))
        return fn

    return deco


_PAREN = re.compile(r"\s*[（(][^（()）]*[)）]")


def clip_label(text: str, limit: int = LABEL_MAX) -> str:
    """``text`` within LINE's label limit; a long label first loses its （…） asides, then its end."""
    text = text.replace("\n", " ").strip()
    if len(text) > limit:
        text = _PAREN.sub("", text).strip() or text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def postback_buttons(items: Sequence[tuple[str, str, str | None]]) -> QuickReply | None:
    """A quick reply of postback buttons, (label, data, text shown in the chat) each; None for no
    buttons (LINE refuses an empty quick reply). LINE shows 13 at most."""
    if not items:
        return None
    return QuickReply(
        items=[
            QuickReplyItem(action=PostbackAction(label=clip_label(label), data=data, display_text=shown or label))
            for label, data, shown in items[:13]
        ]
    )


def numbered_label(number: int, text: str, limit: int = LABEL_MAX) -> str:
    """A candidate's quick-reply label that keeps the number of its line in the message."""
    prefix = f"{number}. "
    return prefix + clip_label(text, limit - len(prefix))


def clip_text(text: str, limit: int = TEXT_MAX) -> str:
    """``text`` within ``limit`` UTF-16 units; a clipped text ends with "…" (counted)."""
    return text if utf16_len(text) <= limit else clip_utf16(text, limit - 1) + "…"


# Catalog languages answered from another language's translation column.
_TRANSLATION_COLUMN = {"zh-Hant": "zh"}


def _translation(entry: FaqEntry, lang: str) -> dict[str, str] | None:
    tr = entry.translations.get(_TRANSLATION_COLUMN.get(lang, lang)) if entry.translations else None
    return tr if tr and tr.get("answer") else None


def is_translated(entry: FaqEntry, lang: str) -> bool:
    """Whether `entry` can be answered in `lang` (Japanese always can)."""
    return lang == "ja" or _translation(entry, lang) is not None


def localized(entry: FaqEntry, lang: str) -> tuple[str, str]:
    """The entry's question and answer in `lang`; untranslated: やさしい日本語 when there, else Japanese."""
    tr = _translation(entry, lang) if lang != "ja" else None
    if tr is None and lang != "ja":
        tr = _translation(entry, "easy")
    if tr:
        return tr.get("question") or entry.question, tr["answer"]
    return entry.question, entry.answer


# An FAQ id as staff write it in an answer: 「口座振替（zei-008）」, 「mynumber-006をご覧ください」.
# (Not \b: Japanese letters count as word characters, 「006を」 has no boundary.)
_ID_RE = re.compile(r"([（(]\s*)?(?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_]*-\d+)(?![A-Za-z0-9_])(\s*[)）])?")


def without_faq_ids(ctx: Ctx, text: str, lang: str) -> tuple[str, list[FaqEntry]]:
    """``text`` with FAQ ids taken out (ids mean nothing to residents), and the entries they
    pointed to: an id in brackets is dropped, a bare one becomes that entry's question."""
    index = ctx.faq.current().index
    referenced: list[FaqEntry] = []

    def swap(m: re.Match[str]) -> str:
        entry = index.get(m.group(2))
        if entry is None:
            return m.group(0)
        if entry not in referenced:
            referenced.append(entry)
        if m.group(1) and m.group(3):
            return ""
        question, _ = localized(entry, lang)
        return (m.group(1) or "") + f"「{question}」" + (m.group(3) or "")

    return _ID_RE.sub(swap, text), referenced


def _candidate_items(
    ctx: Ctx, entries: Sequence[FaqEntry], log_id: int | None
) -> tuple[list[str], list[QuickReplyItem]]:
    """Numbered question lines and one quick reply per entry (full question as display text)."""
    lines: list[str] = []
    items: list[QuickReplyItem] = []
    for i, entry in enumerate(entries, start=1):
        question, _ = localized(entry, ctx.lang)
        lines.append(f"{i}. {question}")
        items.append(
            QuickReplyItem(
                action=PostbackAction(
                    label=numbered_label(i, question),
                    data=postback_data(a="faq", id=entry.id, q=log_id),
                    display_text=question[:DISPLAY_TEXT_MAX],
                )
            )
        )
    return lines, items


def answer_messages(ctx: Ctx, entry: FaqEntry, log_id: int | None, also: Sequence[FaqEntry] = ()) -> list[Message]:
    """The FAQ's answer (with URL/contact) and the 解決した/解決しない quick replies.

    ``also``: close runner-ups, listed under the answer and offered as quick replies after
    the feedback buttons (a near-duplicate entry is one tap away if the top one was not it).
    """
    chosen = ctx.extra.get("chosen_lang")
    if chosen and chosen != ctx.lang and not is_translated(entry, ctx.lang):
        # A message in another language than the resident chose is answered in that language
        # only when the FAQ has the translation; otherwise in the language they chose.
        ctx = dataclasses.replace(ctx, lang=chosen)
    _, answer = localized(entry, ctx.lang)
    answer, referenced = without_faq_ids(ctx, answer.strip(), ctx.lang)
    # The entries an answer points to are offered like close runner-ups, one tap away.
    also = list(also) + [e for e in referenced if e.id != entry.id and e not in also]
    also = also[:MAX_ALSO]
    parts = [answer]
    if not is_translated(entry, ctx.lang):
        # One line in the resident's language saying why the answer is in Japanese.
        parts.insert(0, t("translation_missing", ctx.lang))
    if entry.url:
        parts.append(t("answer_more", ctx.lang, url=entry.url))
    if entry.contact:
        parts.append(t("answer_contact", ctx.lang, contact=entry.contact))
    also_lines, also_items = _candidate_items(ctx, also, log_id)
    if also_lines:
        parts.append(t("answer_also", ctx.lang, list="\n".join(also_lines)))
    parts.append(t("feedback_ask", ctx.lang))
    quick = QuickReply(
        items=[
            QuickReplyItem(
                action=PostbackAction(
                    label=clip_label(t("feedback_yes", ctx.lang)),
                    data=postback_data(a="fb", v=1, q=log_id, id=entry.id),
                    display_text=t("feedback_yes", ctx.lang),
                )
            ),
            QuickReplyItem(
                action=PostbackAction(
                    label=clip_label(t("feedback_no", ctx.lang)),
                    data=postback_data(a="fb", v=0, q=log_id, id=entry.id),
                    display_text=t("feedback_no", ctx.lang),
                )
            ),
            *also_items,
        ]
    )
    return [TextMessage(text=clip_text("\n\n".join(parts)), quick_reply=quick)]


def suggest_messages(ctx: Ctx, entries: Sequence[FaqEntry], log_id: int | None) -> list[Message]:
    """もしかして: up to 4 candidates as quick replies (full question as the display text)."""
    lines, items = _candidate_items(ctx, entries[:4], log_id)
    items.append(
        QuickReplyItem(
            action=PostbackAction(
                label=clip_label(t("suggest_none_label", ctx.lang)),
                data=postback_data(a="none", q=log_id),
                display_text=t("suggest_none_label", ctx.lang),
            )
        )
    )
    return [
        TextMessage(
            text=clip_text(t("suggest_intro", ctx.lang, list="\n".join(lines))), quick_reply=QuickReply(items=items)
        )
    ]


def fallback_messages(ctx: Ctx, related: Sequence[FaqEntry] = (), log_id: int | None = None) -> list[Message]:
    """The honest "I don't know" with where to ask; entries that came close listed as related questions."""
    text = t("fallback", ctx.lang, contact=ctx.contact())
    lines, items = _candidate_items(ctx, related, log_id)
    if not lines:
        return [TextMessage(text=text)]
    text += "\n\n" + t("fallback_related", ctx.lang, list="\n".join(lines))
    return [TextMessage(text=clip_text(text), quick_reply=QuickReply(items=items))]


def small_talk(normalized: str) -> str | None:
    if not normalized:
        # Only emoji or symbols (👍, 🙇‍♀️, ！！): an acknowledgement, not a question.
        return "ack"
    for key, pattern in _SMALL_TALK:
        if pattern.match(normalized):
            return key
    return None


def _search(ctx: Ctx, text: str) -> tuple[Any, list[Any], Decision]:
    published = ctx.faq.current()
    # Search in the language the question is written in (or the resident's, when unclear);
    # answer in ctx.lang, which may differ.
    search_lang = ctx.extra.get("message_lang") or ctx.lang
    # A backlog in the answer pool (a disaster-time burst): fewer query embeddings.
    # The same ranking as the staff tool `faq ask` (Published.rank).
    ranking = published.rank(text, k=5, lang=search_lang, thorough=not ctx.extra.get("busy", False))
    return published, ranking.hits, ranking.decision


def faq_messages(ctx: Ctx, text: str, normalized: str) -> list[Message]:
    """Search the FAQ (and the other answer sources), log the question and reply: answer,
    もしかして or the fallback."""
    published, hits, decision = _search(ctx, text)
    for source in ANSWER_SOURCES:
        routed = source(ctx, text, hits[0].score if hits else 0.0)
        if routed is not None:
            return routed
    top = hits[0] if hits else None
    log_id = core_store.log_query(
        ctx.db,
        normalized[:500],
        decision.kind,
        faq_id=decision.hit.entry.id if decision.kind == "answer" else (top.entry.id if top else None),
        score=round(top.score, 4) if top else None,
        faq_version=published.version,
        lang=ctx.lang,
    )
    candidates = [h.entry for h in decision.candidates]
    if decision.kind == "answer":
        return answer_messages(ctx, decision.hit.entry, log_id, also=candidates)
    if decision.kind == "suggest":
        return suggest_messages(ctx, candidates, log_id)
    return fallback_messages(ctx, candidates, log_id)


def urgent_messages(ctx: Ctx, topic: UrgentTopic, text: str, normalized: str) -> list[Message]:
    """The urgent numbers first; an FAQ answer the question also has comes after them, but
    never the office-hours fallback or a もしかして list."""
    messages: list[Message] = [TextMessage(text=clip_text(topic.answer(ctx.lang, ctx.contact())))]
    published, hits, decision = _search(ctx, text)
    if decision.kind == "answer":
        log_id = core_store.log_query(
            ctx.db,
            normalized[:500],
            "answer",
            faq_id=decision.hit.entry.id,
            score=round(decision.hit.score, 4),
            faq_version=published.version,
            lang=ctx.lang,
        )
        messages += answer_messages(ctx, decision.hit.entry, log_id)
    else:
        core_store.log_query(
            ctx.db,
            normalized[:500],
            "urgent",
            faq_id=f"urgent:{topic.id}",
            faq_version=published.version,
            lang=ctx.lang,
        )
    log.info("urgent topic %s answered", topic.id)
    return messages


def _urgent_topic(ctx: Ctx, text: str) -> UrgentTopic | None:
    topics = load_urgent(ctx.config.get("URGENT_CSV"))
    return find_urgent(topics, text, has_7119=bool(ctx.config.get("URGENT_HAS_7119", True))) if topics else None


def reply_to_text(ctx: Ctx, text: str, *, typed: bool = True) -> list[Message]:
    """Decide the reply to a free-text question (pure apart from the query log and registration).

    ``typed=False``: the text comes from a tapped menu tile, not the keyboard. A dialogue waiting
    for free text (a report's description, an opinion, an address) must not take a tile's label
    as the resident's words: the tile's command answers and the dialogue keeps waiting.
    """
    for hook in TEXT_FIRST if typed else ():
        taken = hook(ctx, text)
        if taken is not None:
            return list(taken)
    normalized = normalize(text)
    cmd = _COMMANDS.get(normalized)
    if cmd is not None:
        return list(cmd(ctx, text))
    for matches, fn in _INTENTS:
        if matches(normalized):
            return list(fn(ctx, text))
    # Health emergencies before anything else: the night-time numbers, not the office's.
    topic = _urgent_topic(ctx, text)
    if topic is not None:
        return with_prefixes(ctx, urgent_messages(ctx, topic, text, normalized))
    for handler in TEXT_HANDLERS:
        handled = handler(ctx, text, normalized)
        if handled is not None:
            return handled
    talk = small_talk(normalized)
    if talk is not None:
        messages: list[Message] = [TextMessage(text=t(talk, ctx.lang))]
    else:
        messages = faq_messages(ctx, text, normalized)
    suffix: list[Message] = []
    if not _offers_choices(messages):
        # (A もしかして list keeps its buttons; the pending question comes with the next reply.)
        for fn in REPLY_SUFFIXES:
            suffix.extend(fn(ctx))
    if suffix:
        # The pending question's buttons are what the resident needs next.
        for message in messages:
            message.quick_reply = None
        messages = (messages + suffix)[-5:]
    return with_prefixes(ctx, messages)


def _offers_choices(messages: Sequence[Message]) -> bool:
    """Whether a reply's buttons are choices the resident has to make (FAQ candidates, the
    garbage area or item asked for)."""
    for message in messages:
        quick = getattr(message, "quick_reply", None)
        for item in quick.items if quick is not None else ():
            data = getattr(item.action, "data", None) or ""
            if data.startswith(("a=faq", "a=none", "a=g_area", "a=g_item")):
                return True
    return False


def with_prefixes(ctx: Ctx, messages: list[Message]) -> list[Message]:
    """Put the urgent notices (ANSWER_PREFIXES) ahead of an answer, within LINE's 5 messages."""
    prefix: list[Message] = []
    for fn in ANSWER_PREFIXES:
        prefix.extend(fn(ctx))
    return merge_quick_replies((prefix + messages)[-5:]) if prefix else messages


def merge_quick_replies(messages: list[Message]) -> list[Message]:
    """LINE shows quick replies only under the last message: move the earlier ones there.

    The earlier messages' items (e.g. disaster mode's 「近くの避難所」) come first; at most 13.
    """
    carried = []
    for message in messages[:-1]:
        quick = getattr(message, "quick_reply", None)
        if quick is not None and quick.items:
            carried.extend(quick.items)
            message.quick_reply = None
    if not carried:
        return messages
    last = messages[-1]
    own = list(last.quick_reply.items) if getattr(last, "quick_reply", None) else []
    last.quick_reply = QuickReply(items=(carried + own)[:13])
    return messages


@on("message:text")
def text_message(ctx: Ctx, event: Any) -> Sequence[Message]:
    return reply_to_text(ctx, event.message.text or "")


@on("message:sticker")
def sticker_message(ctx: Ctx, event: Any) -> Sequence[Message]:
    """A sticker is a reaction (👍, a bow), not a question."""
    return [TextMessage(text=t("ack", ctx.lang))]


@on("message:*")
def other_message(ctx: Ctx, event: Any) -> Sequence[Message]:
    return [TextMessage(text=t("unsupported", ctx.lang))]


def _int_or_none(value: str | None) -> int | None:
    """A query-log id from our own postback; a forged one too big for the database is none."""
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 2**63 else None


@on_postback("faq")
def choose_candidate(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message]:
    """The resident picked a candidate: もしかして, a runner-up under an answer, or a related question."""
    published = ctx.faq.current()
    entry = published.index.get(fields.get("id", ""))
    if entry is None:
        return [TextMessage(text=t("faq_gone", ctx.lang))]
    log_id = core_store.log_query(
        ctx.db, f"[choice] {entry.id}", "answer_chosen", faq_id=entry.id, faq_version=published.version, lang=ctx.lang
    )
    return answer_messages(ctx, entry, log_id)


@on_postback("none")
def none_of_them(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message]:
    core_store.record_feedback(ctx.db, _int_or_none(fields.get("q")), None, helpful=False)
    return [TextMessage(text=t("suggest_none_reply", ctx.lang, contact=ctx.contact()))]


@on_postback("fb")
def feedback(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message]:
    helpful = fields.get("v") == "1"
    core_store.record_feedback(ctx.db, _int_or_none(fields.get("q")), fields.get("id"), helpful)
    if helpful:
        return [TextMessage(text=t("feedback_thanks", ctx.lang))]
    return [TextMessage(text=t("feedback_sorry", ctx.lang, contact=ctx.contact()))]
