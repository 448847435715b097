"""The shelter guide that comes with an evacuation alert: the open shelters of each resident's area
and the 「近くの避難所」 location quick reply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from alerts.areas import ward_areas
from alerts.render import clip
from common.i18n import t
from shelters import service as shelters
from store.vocab import SHELTER_STATUS, SHELTER_TAKING_IN, MsgType, ShelterStatus

GUIDE_TEMPLATES = ("evac_level3", "evac_level4", "evac_level5", "shelter_open")
GUIDE_MAX_SHELTERS = 5  # a short list in one message; the location quick reply finds the rest
_STATUS_MARKS = {ShelterStatus.OPEN: "🟢", ShelterStatus.CROWDED: "🟠"}


def with_shelter_guide(alert: Mapping[str, Any]) -> bool:
    """Evacuation alerts and shelter openings come with 「近くの避難所」 (and, when actual, the open shelters)."""
    return alert["msg_type"] == MsgType.ALERT and alert.get("template") in GUIDE_TEMPLATES


def open_shelters_by_area(db: Database, area_codes: Sequence[str]) -> dict[str | None, list[dict[str, Any]]]:
    """Open (or crowded) shelters per area code; None → those of the alert's areas (or all)."""
    areas = ward_areas()
    live = sorted(
        (s for s in shelters.list_shelters(db) if s["status"] in SHELTER_TAKING_IN),
        key=lambda s: (SHELTER_STATUS.rank(s["status"]), s["source_id"]),
    )
    out: dict[str | None, list[dict[str, Any]]] = {None: []}
    for shelter in live:
        codes = shelters.match_area_codes(shelter, areas)
        for code in codes:
            out.setdefault(code, []).append(shelter)
        if not area_codes or set(codes) & set(area_codes):
            out[None].append(shelter)
    return out


def shelter_guide_message(area_name: str, found: Sequence[Mapping[str, Any]], lang: str) -> dict[str, Any]:
    lines = [t("alert_shelters_intro", lang, area=area_name)]
    for s in found[:GUIDE_MAX_SHELTERS]:
        lines.append(f"{_STATUS_MARKS[s['status']]} {s['name']}【{t(SHELTER_STATUS.resident_key(s['status']), lang)}】")
        if s.get("address"):
            lines.append(("　" if lang in ("ja", "easy") else "   ") + s["address"])
    if len(found) > GUIDE_MAX_SHELTERS:
        lines.append(t("alert_shelters_more", lang, n=len(found) - GUIDE_MAX_SHELTERS))
    lines.append("")
    lines.append(t("alert_shelters_hint", lang))
    return {"type": "text", "text": clip("\n".join(lines))}


def location_quick_reply(lang: str) -> dict[str, Any]:
    label = t("disaster_shelter_label", lang)
    return {"items": [{"type": "action", "action": {"type": "location", "label": label[:20]}}]}
