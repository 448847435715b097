"""粗大ごみ for staff: requests per day and area, capacity, the contractor's CSV, cancel with a reason
(the resident is told by push in their language, through the shared outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for

from admin import bp
from admin.guard import audit, db, roles
from bot.handlers.garbage import format_date
from bot.runtime import runtime
from common.i18n import t
from garbage import bulky
from garbage.service import ward_today
from store import garbage as garbage_store
from store.vocab import BulkyStatus

DEFAULT_SPAN = 13  # days shown after the first (two weeks)
MAX_SPAN = 92


def _areas() -> dict[str, str]:
    return runtime().areas.names()


def _range() -> tuple[dt.date, dt.date]:
    today = ward_today()
    try:
        start = dt.date.fromisoformat(request.args.get("from", "")) if request.args.get("from") else today
        end = (
            dt.date.fromisoformat(request.args.get("to", ""))
            if request.args.get("to")
            else start + dt.timedelta(days=DEFAULT_SPAN)
        )
    except ValueError:
        flash("日付は 2027-01-08 の形で入力してください。")
        start, end = today, today + dt.timedelta(days=DEFAULT_SPAN)
    if end < start:
        start, end = end, start
    return start, min(end, start + dt.timedelta(days=MAX_SPAN))


@bp.route("/garbage")
@roles("staff")
def garbage():
    start, end = _range()
    area = request.args.get("area") or None
    names = _areas()
    rows = garbage_store.requests_between(db(), start.isoformat(), end.isoformat(), area)
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["status"] != BulkyStatus.BOOKED:
            continue
        s = summary.setdefault((r["day"], r["area"]), {"day": r["day"], "area": r["area"], "n": 0, "fees": 0})
        s["n"] += 1
        s["fees"] += r["total_fee"]
    for s in summary.values():
        s["capacity"] = garbage_store.capacity_for(db(), s["area"], s["day"], bulky.DEFAULT_CAPACITY)
    return render_template(
        "admin/garbage.html",
        rows=rows,
        summary=sorted(summary.values(), key=lambda s: (s["day"], s["area"])),
        start=start,
        end=end,
        area=area,
        names=names,
        capacities=garbage_store.capacities(db()),
        default_capacity=bulky.DEFAULT_CAPACITY,
        default_day=garbage_store.DEFAULT_DAY,
    )


@bp.route("/garbage/capacity", methods=["POST"])
@roles("staff")
def garbage_capacity():
    area = request.form.get("area", "")
    raw_day = request.form.get("day", "").strip()
    try:
        capacity = int(request.form.get("capacity", ""))
        day = dt.date.fromisoformat(raw_day).isoformat() if raw_day else garbage_store.DEFAULT_DAY
    except ValueError:
        flash("件数は数字、日付は 2027-01-08 の形で入力してください。")
        return redirect(url_for("admin.garbage"))
    names = _areas()
    if area not in names or not 0 <= capacity <= 1000:
        flash("地区と件数（0〜1000）を確認してください。")
        return redirect(url_for("admin.garbage"))
    garbage_store.set_capacity(db(), area, day, capacity)
    audit("garbage.capacity", f"area:{area}", {"day": day, "capacity": capacity})
    when = "通常" if day == garbage_store.DEFAULT_DAY else day
    flash(
        f"{names[area]}の受付件数（{when}）を {capacity} 件にしました。"
        + ("（この日は受け付けません）" if capacity == 0 else "")
    )
    return redirect(url_for("admin.garbage", **{k: v for k, v in request.args.items()}))


@bp.route("/garbage/requests.csv")
@roles("staff")
def garbage_csv():
    start, end = _range()
    rows = garbage_store.requests_between(db(), start.isoformat(), end.isoformat(), request.args.get("area") or None)
    return Response(
        bulky.export_csv(rows, _areas()),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="sodai_{start:%Y%m%d}_{end:%Y%m%d}.csv"',
        },
    )


@bp.route("/garbage/requests/<int:request_id>/cancel", methods=["POST"])
@roles("staff")
def garbage_cancel(request_id: int):
    reason = " ".join(request.form.get("reason", "").split())
    back = request.form.get("back", "")
    back = back if back.startswith("/admin/garbage") else url_for("admin.garbage")
    req = garbage_store.get_request(db(), request_id)
    if req is None:
        flash("申込が見つかりません。")
        return redirect(back)
    if not reason or len(reason) > 200:
        flash("取消の理由を入力してください（住民に伝わります。200文字まで）。")
        return redirect(back)
    lang = req["lang"] or "ja"
    day = dt.date.fromisoformat(req["day"])
    text = t("bulky_staff_cancelled", lang, receipt=req["receipt"], date=format_date(day, lang), reason=reason)
    notice = [{"type": "text", "text": text}]
    if not garbage_store.cancel_request(db(), request_id, by=g.admin_user, reason=reason, notice=notice):
        flash(f"{req['receipt']} はすでに取り消されています。")
        return redirect(back)
    audit("garbage.cancel", f"bulky:{req['receipt']}", {"reason": reason})
    # The delivery worker sends it (with a retry key: never twice, retried while LINE is down).
    told = (
        "（住民にLINEで通知します）"
        if req["user_id"]
        else "（LINEの連絡先がないため通知していません。電話で連絡してください）"
    )
    flash(f"{req['receipt']} を取り消しました。{told}")
    return redirect(back)
