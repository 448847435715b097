"""粗大ごみ申込 in the chat: items from the fee list, the address, a free day, confirmation.

The dialogue's state is a row in the database (store.garbage bulky_drafts), never in the
process: the next message may reach another worker or host. Residents list and cancel their
own requests until the day before collection; payment is the 処理券 sticker (StickerPayment).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from linebot.v3.messaging import Message, TextMessage

from bot.context import Ctx
from bot.events import on_postback, postback_data
from bot.handlers.chat import TEXT_FIRST, clip_text, command, postback_buttons
from bot.handlers.garbage import format_date
from bot.handlers.residents import areas as ward_areas
from common.i18n import t
from garbage import bulky
from garbage import service as garbage_service
from nlp.normalize import normalize
from store import garbage as garbage_store
from store import residents as resident_store
from store.vocab import BULKY_STATUS, BulkyStatus

log = logging.getLogger(__name__)

SURE = 0.6  # a fee-list item this good is added without asking …
RIVAL = 0.75  # … unless another item scores this much too (ソファ: 1人掛け / 2人掛け / 3人掛け)
AREAS_PER_PAGE = 11  # + 「次へ」 + 「やめる」 = 13 quick replies
_QUIT = {normalize(w) for w in ("やめる", "やめます", "中止", "キャンセル", "取り消し", "stop", "quit", "cancel")}


class StickerPayment:
    """有料粗大ごみ処理券: the resident buys stickers for each item's fee in a shop."""

    def instructions(self, items: Sequence[dict[str, Any]], lang: str) -> str:
        counts = {200: 0, 300: 0}
        for item in items:
            for value, n in bulky.sticker_breakdown(int(item["fee"])).items():
                counts[value] += n
        parts = []
        if counts[200]:
            parts.append(t("bulky_sticker_a", lang, n=counts[200]))
        if counts[300]:
            parts.append(t("bulky_sticker_b", lang, n=counts[300]))
        total = sum(int(i["fee"]) for i in items)
        return t("bulky_payment_sticker", lang, total=f"{total:,}", stickers="・".join(parts))


PAYMENT: bulky.PaymentMethod | StickerPayment = StickerPayment()


def _quit_item(lang: str) -> tuple[str, str, str | None]:
    return (t("bulky_quit_label", lang), postback_data(a="bulky", v="quit"), None)


def _text(text: str, lang: str, items: list[tuple[str, str, str | None]] | None = None) -> TextMessage:
    return TextMessage(text=clip_text(text), quick_reply=postback_buttons(items or []))


def _item_lines(items: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f"・{i['name']}　{int(i['fee']):,}円" for i in items)


def _total(items: Sequence[dict[str, Any]]) -> str:
    return f"{sum(int(i['fee']) for i in items):,}"


def _area_name(ctx: Ctx, code: str) -> str:
    return dict(ward_areas(ctx)).get(code, code)


def _today() -> date:
    return garbage_service.ward_today()


def _key(ctx: Ctx) -> str:
    return str(ctx.store.path)


# --- steps ------------------------------------------------------------------------------------


def start(ctx: Ctx) -> list[Message]:
    if not ctx.user_id:
        return []
    garbage_store.save_draft(ctx.db, ctx.user_id, {"step": "items", "items": []})
    return [_text(t("bulky_start", ctx.lang), ctx.lang, [_quit_item(ctx.lang)])]


def _after_items(ctx: Ctx, state: dict[str, Any], added: dict[str, Any]) -> list[Message]:
    lang = ctx.lang
    text = t(
        "bulky_added",
        lang,
        item=added["name"],
        fee=f"{int(added['fee']):,}",
        list=_item_lines(state["items"]),
        total=_total(state["items"]),
    )
    return [
        _text(text, lang, [(t("bulky_next_label", lang), postback_data(a="bulky", v="next"), None), _quit_item(lang)])
    ]


def add_item(ctx: Ctx, state: dict[str, Any], name: str) -> list[Message]:
    fees = {f.name: f for f in garbage_service.fee_index(ctx.db, _key(ctx)).fees}
    fee = fees.get(name)
    if fee is None:
        return [_text(t("bulky_not_found", ctx.lang, text=name), ctx.lang, [_quit_item(ctx.lang)])]
    if len(state["items"]) >= bulky.MAX_ITEMS:
        return [
            _text(
                t("bulky_too_many", ctx.lang, n=bulky.MAX_ITEMS),
                ctx.lang,
                [(t("bulky_next_label", ctx.lang), postback_data(a="bulky", v="next"), None)],
            )
        ]
    added = {"name": fee.name, "fee": fee.fee}
    state["items"].append(added)
    garbage_store.save_draft(ctx.db, ctx.user_id, state)
    return _after_items(ctx, state, added)


def item_text(ctx: Ctx, state: dict[str, Any], text: str) -> list[Message]:
    hits = garbage_service.fee_index(ctx.db, _key(ctx)).search(text)
    if not hits:
        return [_text(t("bulky_not_found", ctx.lang, text=text.strip()[:40]), ctx.lang, [_quit_item(ctx.lang)])]
    top, score = hits[0]
    if score >= SURE and not any(s >= RIVAL for _, s in hits[1:]):
        return add_item(ctx, state, top.name)
    lines = [f"{i}. {f.name}（{f.fee:,}円）" for i, (f, _) in enumerate(hits, start=1)]
    choices = [(f.name, postback_data(a="bulky", v="add", n=f.name), f.name) for f, _ in hits]
    return [_text(t("bulky_choose", ctx.lang, list="\n".join(lines)), ctx.lang, choices + [_quit_item(ctx.lang)])]


def ask_area(ctx: Ctx, page: int = 0) -> list[Message]:
    choices = list(ward_areas(ctx))
    start_at = page * AREAS_PER_PAGE
    items = [
        (name, postback_data(a="bulky", v="area", c=code), name)
        for code, name in choices[start_at : start_at + AREAS_PER_PAGE]
    ]
    if start_at + AREAS_PER_PAGE < len(choices):
        items.append((t("reg_next_page", ctx.lang), postback_data(a="bulky", v="area_page", p=page + 1), None))
    items.append(_quit_item(ctx.lang))
    return [_text(t("bulky_ask_area", ctx.lang), ctx.lang, items)]


def ask_address(ctx: Ctx, state: dict[str, Any]) -> list[Message]:
    return [
        _text(t("bulky_ask_address", ctx.lang, area=_area_name(ctx, state["area"])), ctx.lang, [_quit_item(ctx.lang)])
    ]


def offer_days(ctx: Ctx, state: dict[str, Any], intro: str | None = None) -> list[Message]:
    loaded = garbage_service.current(ctx.db, key=_key(ctx))
    days = garbage_service.bulky_days(
        ctx.db,
        state["area"],
        _today(),
        loaded.gset if loaded else None,
        _area_name(ctx, state["area"]),
        bulky.OFFERED_DATES,
    )
    if not days:
        garbage_store.drop_draft(ctx.db, ctx.user_id)
        return [_text(t("bulky_no_days", ctx.lang), ctx.lang)]
    items = [(format_date(d, ctx.lang), postback_data(a="bulky", v="day", d=d.isoformat()), None) for d in days]
    text = (intro + "\n" if intro else "") + t("bulky_ask_day", ctx.lang)
    return [_text(text, ctx.lang, items + [_quit_item(ctx.lang)])]


def confirm(ctx: Ctx, state: dict[str, Any]) -> list[Message]:
    lang = ctx.lang
    text = t(
        "bulky_confirm",
        lang,
        list=_item_lines(state["items"]),
        total=_total(state["items"]),
        area=_area_name(ctx, state["area"]),
        address=state["address"],
        date=format_date(date.fromisoformat(state["day"]), lang),
    )
    return [
        _text(
            text,
            lang,
            [(t("bulky_confirm_label", lang), postback_data(a="bulky", v="confirm"), None), _quit_item(lang)],
        )
    ]


def book(ctx: Ctx, state: dict[str, Any]) -> list[Message]:
    day = date.fromisoformat(state["day"])
    try:
        request = garbage_service.book_bulky(
            ctx.db,
            user_id=ctx.user_id,
            area_code=state["area"],
            address=state["address"],
            day=day,
            items=state["items"],
            lang=ctx.lang,
        )
    except garbage_store.DayFull:
        state["step"] = "day"
        garbage_store.save_draft(ctx.db, ctx.user_id, state)
        return offer_days(ctx, state, t("bulky_day_full", ctx.lang, date=format_date(day, ctx.lang)))
    garbage_store.drop_draft(ctx.db, ctx.user_id)
    log.info("bulky request %s booked (user %s)", request["receipt"], ctx.user_hash)
    text = t(
        "bulky_booked",
        ctx.lang,
        receipt=request["receipt"],
        date=format_date(day, ctx.lang),
        payment=PAYMENT.instructions(state["items"], ctx.lang),
    )
    return [_text(text, ctx.lang, [(t("bulky_list_label", ctx.lang), postback_data(a="bulky", v="list"), None)])]


def list_requests(ctx: Ctx) -> list[Message]:
    if not ctx.user_id:
        return []
    today = _today()
    rows = garbage_store.user_requests(ctx.db, ctx.user_id, today.isoformat())
    if not rows:
        return [_text(t("bulky_list_none", ctx.lang), ctx.lang)]
    lines = [t("bulky_list_intro", ctx.lang)]
    quick = []
    for r in rows:
        day = date.fromisoformat(r["day"])
        lines.append(
            t(
                "bulky_list_line",
                ctx.lang,
                receipt=r["receipt"],
                date=format_date(day, ctx.lang),
                items="・".join(i["name"] for i in r["items"]),
                total=f"{r['total_fee']:,}",
                status=t(BULKY_STATUS.resident_key(r["status"]), ctx.lang),
            )
        )
        if r["status"] == BulkyStatus.BOOKED and bulky.can_cancel(day, today):
            quick.append(
                (
                    t("bulky_cancel_label", ctx.lang, receipt=r["receipt"]),
                    postback_data(a="bulky", v="cancel", r=r["id"]),
                    None,
                )
            )
    return [_text("\n".join(lines), ctx.lang, quick)]


def _own_request(ctx: Ctx, fields: dict[str, str]) -> dict[str, Any] | None:
    try:
        request_id = int(fields.get("r", ""))
    except ValueError:
        return None
    if not 0 < request_id < 2**63:  # a forged number the database cannot hold
        return None
    request = garbage_store.get_request(ctx.db, request_id)
    if request is None or request["user_id"] != ctx.user_id:
        return None
    return request


# --- events ------------------------------------------------------------------------------------


START_WORDS = ("粗大ごみ申込", "粗大ごみ申し込み", "粗大ごみの申込", "粗大ごみを申し込む", "そだいごみもうしこみ")
LIST_WORDS = ("粗大ごみ確認", "申込確認", "粗大ごみの申込確認", "粗大ごみの確認")
_OWN_COMMANDS = {normalize(w) for w in START_WORDS + LIST_WORDS}


@command(*START_WORDS)
def start_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    return start(ctx)


@command(*LIST_WORDS)
def list_command(ctx: Ctx, event: Any) -> Sequence[Message]:
    return list_requests(ctx)


def bulky_text(ctx: Ctx, text: str) -> list[Message] | None:
    """While a request is being written, typed text is its item or address."""
    if not ctx.user_id:
        return None
    state = garbage_store.get_draft(ctx.db, ctx.user_id)
    if state is None or state.get("step") not in ("items", "address") or normalize(text) in _OWN_COMMANDS:
        return None  # (starting over or listing requests works in the middle of one)
    if normalize(text) in _QUIT:
        garbage_store.drop_draft(ctx.db, ctx.user_id)
        return [_text(t("bulky_quit_done", ctx.lang), ctx.lang)]
    if state["step"] == "items":
        return item_text(ctx, state, text)
    address = " ".join(text.split())
    if not address or len(address) > bulky.MAX_ADDRESS:
        return [_text(t("bulky_address_bad", ctx.lang, n=bulky.MAX_ADDRESS), ctx.lang, [_quit_item(ctx.lang)])]
    state.update(step="day", address=address)
    garbage_store.save_draft(ctx.db, ctx.user_id, state)
    return offer_days(ctx, state)


TEXT_FIRST.append(bulky_text)


@on_postback("bulky")
def bulky_postback(ctx: Ctx, event: Any, fields: dict[str, str]) -> Sequence[Message] | None:
    if not ctx.user_id:
        return None
    action = fields.get("v", "")
    if action == "start":
        return start(ctx)
    if action == "list":
        return list_requests(ctx)
    if action in ("cancel", "cancel_yes"):
        request = _own_request(ctx, fields)
        if request is None:
            return list_requests(ctx)
        day = date.fromisoformat(request["day"])
        if request["status"] != BulkyStatus.BOOKED or not bulky.can_cancel(day, _today()):
            return [_text(t("bulky_cancel_too_late", ctx.lang), ctx.lang)]
        if action == "cancel":
            yes = (t("bulky_cancel_yes", ctx.lang), postback_data(a="bulky", v="cancel_yes", r=request["id"]), None)
            return [
                _text(
                    t("bulky_cancel_ask", ctx.lang, receipt=request["receipt"], date=format_date(day, ctx.lang)),
                    ctx.lang,
                    [yes],
                )
            ]
        garbage_store.cancel_request(ctx.db, request["id"], by="resident", reason=None, user_id=ctx.user_id)
        return [_text(t("bulky_cancel_done", ctx.lang, receipt=request["receipt"]), ctx.lang)]
    state = garbage_store.get_draft(ctx.db, ctx.user_id)
    if state is None:
        return start(ctx)
    if action == "quit":
        garbage_store.drop_draft(ctx.db, ctx.user_id)
        return [_text(t("bulky_quit_done", ctx.lang), ctx.lang)]
    if action == "add" and state["step"] == "items":
        return add_item(ctx, state, fields.get("n", ""))
    if action == "next" and state["step"] == "items":
        if not state["items"]:
            return [_text(t("bulky_no_items", ctx.lang), ctx.lang, [_quit_item(ctx.lang)])]
        resident = resident_store.get_resident(ctx.db, ctx.user_id)
        code = resident.area if resident else None
        if code and code in dict(ward_areas(ctx)):
            state.update(step="address", area=code)
            garbage_store.save_draft(ctx.db, ctx.user_id, state)
            return ask_address(ctx, state)
        state["step"] = "area"
        garbage_store.save_draft(ctx.db, ctx.user_id, state)
        return ask_area(ctx)
    if action == "area_page" and state["step"] == "area":
        try:
            return ask_area(ctx, max(0, int(fields.get("p", "0"))))
        except ValueError:
            return ask_area(ctx)
    if action == "area" and state["step"] == "area":
        code = fields.get("c", "")
        if code not in dict(ward_areas(ctx)):
            return ask_area(ctx)
        state.update(step="address", area=code)
        garbage_store.save_draft(ctx.db, ctx.user_id, state)
        return ask_address(ctx, state)
    if action == "day" and state["step"] in ("day", "confirm"):
        try:
            day = date.fromisoformat(fields.get("d", ""))
        except ValueError:
            return offer_days(ctx, state)
        loaded = garbage_service.current(ctx.db, key=_key(ctx))
        free = garbage_service.bulky_days(
            ctx.db,
            state["area"],
            _today(),
            loaded.gset if loaded else None,
            _area_name(ctx, state["area"]),
            bulky.SEARCH_DAYS,
        )
        if day not in free:
            return offer_days(ctx, state, t("bulky_day_full", ctx.lang, date=format_date(day, ctx.lang)))
        state.update(step="confirm", day=day.isoformat())
        garbage_store.save_draft(ctx.db, ctx.user_id, state)
        return confirm(ctx, state)
    if action == "confirm" and state["step"] == "confirm":
        return book(ctx, state)
    # A button from an earlier step: say where the request stands.
    return _resume(ctx, state)


def _resume(ctx: Ctx, state: dict[str, Any]) -> list[Message]:
    step = state.get("step")
    if step == "area":
        return ask_area(ctx)
    if step == "address":
        return ask_address(ctx, state)
    if step == "day":
        return offer_days(ctx, state)
    if step == "confirm":
        return confirm(ctx, state)
    return [_text(t("bulky_start", ctx.lang), ctx.lang, [_quit_item(ctx.lang)])]
