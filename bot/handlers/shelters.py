"""Location messages and shelter questions.

A location → the nearest open shelters suitable for the active hazard: a short intro and the
shelters once, as a Flex carousel (its altText lists them for chat lists and notifications);
none open nearby → say so and show the nearest designated ones with their real status
(未開設 / 満員). 「避難所」, "nearest shelter" and the like → a quick reply with LINE's location
action. 「<area>の避難所」 (also 「若葉の避難所」 without 丁目, kana or the area's name in the
resident's language) → the shelters designated for that area.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from linebot.v3.messaging import (
    FlexContainer,
    FlexMessage,
    LocationAction,
    Message,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from alerts.service import active_alerts_for
from bot.context import Ctx
from bot.events import on
from bot.handlers.chat import TEXT_HANDLERS, clip_label, clip_text, command
from common.areas import Area
from common.i18n import t
from shelters import service
from shelters.importer import HAZARDS
from store import residents
from store.vocab import SHELTER_STATUS, ShelterStatus

log = logging.getLogger(__name__)

NEARBY_M = 5_000  # "open nearby": within a walk a resident can make in a disaster
FALLBACK_M = 20_000  # how far designated (not yet open) shelters are still worth showing
MAX_RESULTS = 5
MAX_AREA_RESULTS = 10  # a carousel holds 12 bubbles
ALT_TEXT_MAX = 400
FLEX_BYTES_MAX = 8_000  # LINE's limit is not confirmed; keep contents well under 10 KB
ROUTE_URL = "https://www.google.com/maps/dir/?api=1&destination={lat},{lon}&travelmode=walking"
STATUS_COLORS = {
    ShelterStatus.OPEN: "#1E7E34",
    ShelterStatus.CROWDED: "#B35900",
    ShelterStatus.FULL: "#C62828",
    ShelterStatus.CLOSED: "#5F6368",
}
# Dialogues that take a location while in progress (a report's place); None = not theirs.
LOCATION_FIRST: list[Callable[[Ctx, Any], Sequence[Message] | None]] = []


# --- context: seed, active hazard --------------------------------------------------------


def _seed(ctx: Ctx) -> None:
    service.ensure_seeded(ctx.store, ctx.config.get("SHELTERS_CSV"))


def _resident_area(ctx: Ctx) -> str | None:
    if not ctx.user_id:
        return None
    return r.area if (r := residents.get_resident(ctx.db, ctx.user_id)) else None


def active_hazard(ctx: Ctx) -> str | None:
    """The hazard of an active alert for the resident's area (None when none is known)."""
    try:
        alerts = active_alerts_for(ctx.db, _resident_area(ctx))
    except Exception:  # shelter guidance must work even if the alert lookup fails
        log.exception("active hazard lookup failed (user %s)", ctx.user_hash)
        return None
    for alert in alerts or []:
        hazard = alert.get("hazard")
        if hazard in HAZARDS:
            return hazard
    return None


# --- presentation (pure) -----------------------------------------------------------------


def route_url(shelter: dict[str, Any]) -> str:
    return ROUTE_URL.format(lat=f"{shelter['lat']:.6f}", lon=f"{shelter['lon']:.6f}")


def distance_text(meters: float, lang: str) -> str:
    if meters < 1000:
        return t("shelter_distance_m", lang, value=max(10, int(round(meters, -1))))
    return t("shelter_distance_km", lang, value=f"{meters / 1000:.1f}")


def capacity_text(shelter: dict[str, Any], lang: str) -> str:
    parts = []
    if shelter.get("capacity"):  # some files write 0 for "not stated"
        parts.append(t("shelter_capacity", lang, n=f"{shelter['capacity']:,}"))
    else:
        parts.append(t("shelter_capacity_unknown", lang))
    if shelter.get("head_count") is not None:
        parts.append(t("shelter_head_count", lang, n=f"{shelter['head_count']:,}"))
    return " / ".join(parts)


def status_text(status: str, lang: str) -> str:
    return t(SHELTER_STATUS.resident_key(status), lang)


def _bubble(shelter: dict[str, Any], lang: str) -> dict[str, Any]:
    status = shelter["status"]
    details = []
    if shelter.get("distance_m") is not None:
        details.append(distance_text(shelter["distance_m"], lang))
    details.append(capacity_text(shelter, lang))
    body: list[dict[str, Any]] = [
        {"type": "text", "text": shelter["name"][:60], "weight": "bold", "wrap": True, "size": "md"},
        {"type": "text", "text": " ・ ".join(details), "size": "sm", "color": "#444444", "wrap": True},
    ]
    if shelter.get("address"):
        body.append({"type": "text", "text": shelter["address"][:80], "size": "xs", "color": "#777777", "wrap": True})
    return {
        "type": "bubble",
        "size": "kilo",
        "header": {
            "type": "box",
            "layout": "vertical",
            "paddingAll": "8px",
            "backgroundColor": STATUS_COLORS[status],
            "contents": [
                {"type": "text", "text": status_text(status, lang), "color": "#FFFFFF", "weight": "bold", "size": "sm"}
            ],
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "height": "sm",
                    "color": "#1A73E8",
                    "action": {"type": "uri", "label": clip_label(t("shelter_route", lang)), "uri": route_url(shelter)},
                }
            ],
        },
    }


def text_list(shelters: Sequence[dict[str, Any]], lang: str) -> str:
    """One line per shelter (no map links): the altText, and the note for shelters the
    carousel has no room for."""
    lines = []
    for i, s in enumerate(shelters, start=1):
        details = [status_text(s["status"], lang)]
        if s.get("distance_m") is not None:
            details.append(distance_text(s["distance_m"], lang))
        lines.append(f"{i}. {s['name']}（{' ・ '.join(details)}）")
    return "\n".join(lines)


def shelter_messages(intro: str, shelters: Sequence[dict[str, Any]], lang: str) -> list[Message]:
    """A short intro with the safety note, then the shelters once, as a Flex carousel.

    The carousel's altText (what chat lists, notifications and clients without Flex show)
    lists the same shelters as plain text.
    """
    shelters = list(shelters)[:12]
    alt = clip_text(f"{intro}\n{text_list(shelters, lang)}", ALT_TEXT_MAX)
    bubbles: list[dict[str, Any]] = []
    size = 0
    for s in shelters:  # stay well under LINE's Flex size limit
        bubble = _bubble(s, lang)
        size += len(json.dumps(bubble, ensure_ascii=False).encode())
        if bubbles and size > FLEX_BYTES_MAX:
            break
        bubbles.append(bubble)
    text = f"{intro}\n{t('shelter_note', lang)}"
    if len(bubbles) < len(shelters):
        # The carousel is full: name the others in the text rather than drop them.
        rest = shelters[len(bubbles) :]
        text += "\n\n" + text_list(rest, lang)
    carousel = {"type": "carousel", "contents": bubbles}
    flex = FlexMessage(alt_text=alt, contents=FlexContainer.from_dict(carousel))
    return [TextMessage(text=clip_text(text)), flex]


def nearest_reply(ctx: Ctx, lat: float, lon: float, hazard: str | None) -> list[Message]:
    """Decide the reply to a location (the database is only read)."""
    lang = ctx.lang
    found = service.nearest(ctx.db, lat, lon, hazard=hazard, limit=MAX_RESULTS, only_open=True, max_distance_m=NEARBY_M)
    if found:
        if hazard:
            intro = t("shelter_open_intro_hazard", lang, hazard=t(f"shelter_hazard_{hazard}", lang))
        else:
            intro = t("shelter_open_intro", lang)
        return shelter_messages(intro, found, lang)
    designated = service.nearest(ctx.db, lat, lon, hazard=hazard, limit=3, only_open=False, max_distance_m=FALLBACK_M)
    if not designated:
        return [TextMessage(text=t("shelter_none_found", lang))]
    km = NEARBY_M // 1000
    return shelter_messages(t("shelter_none_open", lang, km=km), designated, lang)


# --- handlers ----------------------------------------------------------------------------


def valid_coordinates(lat: Any, lon: Any) -> bool:
    """A point on Earth (a crafted event may carry 999, NaN or ∞, which no search can use)."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


@on("message:location")
def location(ctx: Ctx, event: Any) -> Sequence[Message]:
    if not valid_coordinates(getattr(event.message, "latitude", None), getattr(event.message, "longitude", None)):
        log.info("unusable location (user %s)", ctx.user_hash)
        return [
            TextMessage(
                text=t("shelter_location_invalid", ctx.lang), quick_reply=ask_location_messages(ctx.lang)[0].quick_reply
            )
        ]
    for hook in LOCATION_FIRST:
        taken = hook(ctx, event)
        if taken is not None:
            return taken
    _seed(ctx)
    msg = event.message
    hazard = active_hazard(ctx)
    log.info("shelter search (user %s, hazard %s)", ctx.user_hash, hazard)
    return nearest_reply(ctx, float(msg.latitude), float(msg.longitude), hazard)


def ask_location_messages(lang: str) -> list[Message]:
    quick = QuickReply(
        items=[QuickReplyItem(action=LocationAction(label=clip_label(t("shelter_location_label", lang))))]
    )
    return [TextMessage(text=t("shelter_ask_location", lang), quick_reply=quick)]


@command(
    "避難所",
    "近くの避難所",
    "避難場所",
    "近くの避難場所",
    "ひなんじょ",
    "近くのひなんじょ",
    "避難所を探す",
    "shelter",
    "shelters",
)
def ask_location(ctx: Ctx, text: Any) -> Sequence[Message]:
    return ask_location_messages(ctx.lang)


def area_reply(ctx: Ctx, found: Sequence[Area]) -> list[Message]:
    """The shelters designated for the areas a resident named (several: a town without 丁目)."""
    _seed(ctx)
    lang = ctx.lang
    shown = "・".join(a.display(lang) for a in found)
    by_id: dict[str, dict[str, Any]] = {}
    for area in found:
        for shelter in service.shelters_for_area(ctx.db, area.name):
            by_id.setdefault(shelter["source_id"], shelter)
    shelters = sorted(by_id.values(), key=lambda s: (SHELTER_STATUS.rank(s["status"]), s["source_id"]))[
        :MAX_AREA_RESULTS
    ]
    if not shelters:
        return [
            TextMessage(
                text=t("shelter_area_none", lang, area=shown),
                quick_reply=ask_location_messages(lang)[0].quick_reply,
            )
        ]
    return shelter_messages(t("shelter_area_intro", lang, area=shown), shelters, lang)


# The word "shelter" in the languages residents write in.
_SHELTER_WORD = re.compile(
    r"避難所|避難場所|ひなんじょ|ひなんばしょ|shelter|evacuation (?:center|centre|site|area)|避难所|避難所|避难场所"
    r"|대피소|피난소|대피 장소|nơi sơ tán|nơi trú ẩn|điểm sơ tán|abrigo|centro de evacuação"
)
# "Where is the nearest shelter" — asking for the location search, in any of those languages.
_NEAREST = re.compile(
    r"nearest|closest|nearby|near me|near here|around here|where (?:is|are|can)|find|近く|ちかく|最寄|もより|附近|最近|"
    r"哪里|在哪|가까운|근처|어디|gần|ở đâu|mais próximo|perto|onde"
)
_KANA = re.compile("[\u3041-\u30ff]")
_MAX_SHELTER_QUESTION = 40  # longer messages are questions about shelters: the FAQ answers them


def shelter_text(ctx: Ctx, text: str, normalized: str) -> list[Message] | None:
    """「若葉の避難所」 → that area's shelters; "nearest shelter" → ask for the location."""
    if len(normalized) > _MAX_SHELTER_QUESTION or not _SHELTER_WORD.search(normalized):
        return None
    found = ctx.areas.find(_SHELTER_WORD.sub(" ", normalized))
    if found:
        return area_reply(ctx, found)
    # 「近くの避難所はどこですか」 is a Japanese FAQ question (with its own answer); "nearest
    # shelter" and its likes in other languages ask for the location search.
    if _NEAREST.search(normalized) and not _KANA.search(normalized):
        return ask_location_messages(ctx.lang)
    return None


TEXT_HANDLERS.append(shelter_text)
