"""Shelters: big status buttons (usable on a phone at the shelter) and the history of each shelter."""

from __future__ import annotations

import unicodedata

from flask import abort, current_app, flash, g, redirect, render_template, request

from admin import bp
from admin.guard import client_ip, db, roles, safe_next
from bot.runtime import runtime
from shelters import service
from store.vocab import SHELTER_STATUS

STATUS_LABELS = SHELTER_STATUS.labels()  # in display order: the buttons and counts follow it


def parse_head_count(raw: str, maximum: int) -> int | None:
    """The typed head count, None when empty; ValueError unless 0…maximum (full-width digits are fine)."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(",", "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)) or int(text) > maximum:
        raise ValueError(raw)
    return int(text)


def _seed() -> None:
    rt = runtime()
    service.ensure_seeded(rt.store, current_app.config.get("SHELTERS_CSV"))


@bp.route("/shelters")
@roles("operator")
def shelters():
    _seed()
    q = request.args.get("q", "").strip()
    rows = service.list_shelters(db())
    if q:
        rows = [s for s in rows if q in s["name"] or q in (s["address"] or "") or q in (s["kana"] or "")]
    only = request.args.get("status", "")
    if only in STATUS_LABELS:
        rows = [s for s in rows if s["status"] == only]
    counts = dict.fromkeys(STATUS_LABELS, 0)
    for s in service.list_shelters(db()):
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    return render_template(
        "admin/shelters.html",
        shelters=rows,
        q=q,
        only=only,
        counts=counts,
        labels=STATUS_LABELS,
        order=list(STATUS_LABELS),
    )


@bp.route("/shelters/<shelter_id>")
@roles("operator")
def shelter_detail(shelter_id: str):
    try:
        shelter = service.get_shelter(db(), shelter_id)
        history = service.status_history(db(), shelter_id)
    except service.UnknownShelter:
        abort(404)
    return render_template(
        "admin/shelter.html", s=shelter, history=history, labels=STATUS_LABELS, order=list(STATUS_LABELS)
    )


@bp.route("/shelters/<shelter_id>/status", methods=["POST"])
@roles("operator")
def shelter_status(shelter_id: str):
    try:
        count = parse_head_count(request.form.get("count", ""), service.MAX_HEAD_COUNT)
    except ValueError:
        flash(f"人数は0から{service.MAX_HEAD_COUNT:,}までの数字で入力してください。状態は変えていません。", "error")
        return redirect(safe_next(request.form.get("back"), "admin.shelters"))
    try:
        shelter = service.set_status(
            db(),
            shelter_id,
            request.form.get("status", ""),
            count=count,
            by=g.admin_user,
            source=f"web {client_ip()}",
        )
    except service.UnknownShelter:
        abort(404)
    except service.InvalidStatus:
        flash("状態または人数が正しくありません。", "error")
    else:
        label = SHELTER_STATUS.label(shelter["status"])
        flash(f"{shelter['name']} を「{label}」にしました。（住民への通知は自動では送られません）")
    return redirect(safe_next(request.form.get("back"), "admin.shelters"))
