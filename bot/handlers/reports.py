"""Residents' reports in LINE: photo(s) → place → kind → description → confirm → receipt number.

The dialogue itself is decided in `reports.service` (state in the database, any process may
answer the next event); this module fetches photos from LINE's content API, routes images,
locations, text and buttons to it while a report is in progress, and renders its outcomes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from linebot.v3.messaging import (
    CameraAction,
    CameraRollAction,
    LocationAction,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from bot.context import Ctx
from bot.events import on, on_postback, postback_data
from bot.handlers import shelters
from bot.handlers.chat import TEXT_FIRST, clip_label, clip_text, command
from common.i18n import t
from common.line_api import LineApiError
from nlp.normalize import normalize
from reports import flow, service
from reports.flow import Draft
from reports.kinds import by_code
from store import reports as report_store

log = logging.getLogger(__name__)

FETCH_ATTEMPTS = 3
FETCH_BACKOFF = 0.5  # seconds, doubled per attempt: 0.5 s, 1 s — well inside the reply token's minute
REPORT_WORDS = ("通報", "つうほう", "通報する", "不具合", "不具合の通報", "道路の損傷", "report", "report a problem")


def settings(ctx: Ctx) -> service.Settings:
    return service.Settings.from_config(ctx.config, ctx.areas)


# --- rendering ------------------------------------------------------------------------------


def _pb(label: str, shown: str | None = None, **fields: Any) -> QuickReplyItem:
    return QuickReplyItem(
        action=PostbackAction(
            label=clip_label(label), data=postback_data(a="rp", **fields), display_text=shown or label
        )
    )


def _question(ctx: Ctx, draft: Draft, step: str) -> tuple[str, list[QuickReplyItem]]:
    lang, s, n = ctx.lang, settings(ctx), draft.nonce
    cancel = _pb(t("report_label_cancel", lang), s="cancel", n=n)
    more_photos = (
        [
            QuickReplyItem(action=CameraAction(label=clip_label(t("report_label_camera", lang)))),
            QuickReplyItem(action=CameraRollAction(label=clip_label(t("report_label_roll", lang)))),
        ]
        if len(draft.photos) < flow.MAX_PHOTOS
        else []
    )
    location = QuickReplyItem(action=LocationAction(label=clip_label(t("report_label_location", lang))))
    if step == flow.PHOTO:
        return t("report_ask_photo", lang), [
            *more_photos,
            _pb(t("report_label_nophoto", lang), s="nophoto", n=n),
            cancel,
        ]
    if step == flow.PLACE:
        return t("report_ask_place", lang), [location, *more_photos, cancel]
    if step == flow.FAR:
        items = [
            _pb(t("report_label_far_yes", lang), s="far_yes", n=n),
            _pb(t("report_label_far_no", lang), s="far_no", n=n),
        ]
        return t("report_ask_far", lang), [*items, cancel]
    if step == flow.KIND:
        kinds = s.kinds()[: 13 - 1]
        return t("report_ask_kind", lang), [*(_pb(k.label(lang), s="kind", v=k.code, n=n) for k in kinds), cancel]
    if step == flow.DESCRIPTION:
        return t("report_ask_description", lang, n=flow.MAX_DESCRIPTION), [
            _pb(t("report_label_nodesc", lang), s="nodesc", n=n),
            cancel,
        ]
    text = t("report_confirm", lang, **service.summary_fields(s, draft, lang))
    return text, [_pb(t("report_label_send", lang), s="ok", n=n), cancel]


def render(ctx: Ctx, out: service.Outcome) -> list[Message]:
    """Notes, then the next question with its quick replies, as one message."""
    parts = [t(key, ctx.lang, **fields).strip() for key, fields in out.notes]
    items: list[QuickReplyItem] = []
    if out.draft is not None and out.step is not None and out.receipt is None:
        question, items = _question(ctx, out.draft, out.step)
        parts.append(question)
    text = clip_text("\n\n".join(p for p in parts if p))
    return [TextMessage(text=text, quick_reply=QuickReply(items=items[:13]) if items else None)]


def status_notice(
    report: dict[str, Any], new_status: str, status_notes: str | None, kinds: list
) -> list[dict[str, Any]]:
    """The message that tells the reporter, in their language, that their report changed status."""
    lang = report.get("lang") or "ja"
    kind = by_code(kinds, report["kind"])
    text = t(
        "report_status_changed",
        lang,
        id=report["id"],
        kind=kind.label(lang) if kind else report["kind_name"],
        status=t(f"report_status_{new_status}", lang),
    )
    if status_notes:
        text += "\n" + t("report_status_notes", lang, notes=status_notes)
    return [{"type": "text", "text": clip_text(text)}]


# --- photos -------------------------------------------------------------------------------------


def fetch_content(ctx: Ctx, message_id: str) -> tuple[bytes | None, str | None]:
    """The bytes of a message from the content API, retried on 5xx/timeouts; (None, catalog key) on failure."""
    for attempt in range(FETCH_ATTEMPTS):
        try:
            data, _content_type = ctx.line.content(message_id)
            return data, None
        except LineApiError as err:
            if err.status == 404:  # content expired or unknown: retrying will not help
                log.info("content of a message is gone (user %s)", ctx.user_hash)
                return None, "report_photo_gone"
            if err.status not in (0, 429) and err.status < 500:
                log.warning("content API refused: %s (user %s)", err.status, ctx.user_hash)
                return None, "report_photo_fetch_failed"
            log.info("content API %s, attempt %d (user %s)", err.status, attempt + 1, ctx.user_hash)
            if attempt + 1 < FETCH_ATTEMPTS:
                time.sleep(FETCH_BACKOFF * 2**attempt)
    return None, "report_photo_fetch_failed"


# Other dialogues that take a photo while they are waiting for one (an opinion's optional
# photo); each returns None when this resident is not at that step. Otherwise a photo starts
# or continues a report.
IMAGE_FIRST: list = []


@on("message:image")
def image(ctx: Ctx, event: Any) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    for hook in IMAGE_FIRST:
        taken = hook(ctx, event)
        if taken is not None:
            return taken
    msg = event.message
    s = settings(ctx)
    provider = getattr(getattr(msg, "content_provider", None), "type", "line")
    provider = getattr(provider, "value", provider)
    if provider != "line":  # an image hosted elsewhere: never fetch arbitrary URLs
        return render(ctx, service.photo_failed(ctx.db, s, ctx.user_id, "report_photo_invalid"))
    data, problem = fetch_content(ctx, msg.id)
    if data is None:
        return render(ctx, service.photo_failed(ctx.db, s, ctx.user_id, problem or "report_photo_fetch_failed"))
    return render(ctx, service.photo(ctx.db, s, ctx.user_id, ctx.lang, data))


def _not_a_photo(ctx: Ctx, event: Any) -> Sequence[Message]:
    if ctx.user_id and report_store.get_draft(ctx.db, ctx.user_id) is not None:
        return render(ctx, service.photo_failed(ctx.db, settings(ctx), ctx.user_id, "report_not_a_photo"))
    return [TextMessage(text=t("unsupported", ctx.lang))]


for _kind in ("video", "file", "audio"):
    on(f"message:{_kind}")(_not_a_photo)


# --- place, text, buttons -------------------------------------------------------------------------------


def _location_first(ctx: Ctx, event: Any) -> Sequence[Message] | None:
    """A report in progress takes the location as its place (else: the shelter search)."""
    if not ctx.user_id:
        return None
    msg = event.message
    out = service.location(
        ctx.db, settings(ctx), ctx.user_id, float(msg.latitude), float(msg.longitude), getattr(msg, "address", None)
    )
    return render(ctx, out) if out is not None and (out.notes or out.step) else None


def _text_first(ctx: Ctx, text: str) -> Sequence[Message] | None:
    if not ctx.user_id or normalize(text) in _REPORT_WORDS_NORMALIZED:
        return None
    out = service.text(ctx.db, settings(ctx), ctx.user_id, text)
    return render(ctx, out) if out is not None else None


_REPORT_WORDS_NORMALIZED = {normalize(w) for w in REPORT_WORDS}
shelters.LOCATION_FIRST.append(_location_first)
TEXT_FIRST.append(_text_first)


@command(*REPORT_WORDS)
def start(ctx: Ctx, text: Any) -> Sequence[Message]:
    if not ctx.user_id:
        return []
    return render(ctx, service.start(ctx.db, settings(ctx), ctx.user_id, ctx.lang))


@on_postback("rp")
def button(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    return render(ctx, service.postback(ctx.db, settings(ctx), ctx.user_id, fields))
