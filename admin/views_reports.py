"""Residents' reports for staff: the queue (filters, dot map), one report (photos, place, status,
department, publication), status changes that tell the reporter, and the CSV export."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import time
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for

import wardtime
from admin import bp
from admin.guard import client_ip, db, roles
from bot.handlers.reports import status_notice
from bot.runtime import runtime
from reports import geo, service
from reports.media import valid_name
from store import reports as store
from store.vocab import REPORT_OPEN, REPORT_STATUS, Open311Status, ReportStatus

PAGE = 50
STATUS_LABELS = REPORT_STATUS.labels()
STATUS_COLORS = {
    ReportStatus.RECEIVED: "#c62828",
    ReportStatus.IN_PROGRESS: "#ef6c00",
    ReportStatus.DONE: "#2e7d32",
    ReportStatus.REJECTED: "#607d8b",
    ReportStatus.DUPLICATE: "#8e24aa",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _settings() -> service.Settings:
    return service.Settings.from_config(current_app.config, runtime().areas)


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters() -> tuple[dict[str, Any], dict[str, str]]:
    """Query-string filters → store filters (dates are the ward's calendar days)."""
    args = {k: request.args.get(k, "").strip() for k in ("status", "kind", "area", "from", "to")}
    tz = _settings().tz
    filters: dict[str, Any] = {}
    if args["status"] == Open311Status.OPEN:  # the queue's 未完了: Open311's word for it
        filters["status"] = list(REPORT_OPEN)
    elif args["status"] in STATUS_LABELS:
        filters["status"] = args["status"]
    if args["kind"]:
        filters["kind"] = args["kind"]
    if args["area"]:
        filters["area"] = args["area"]
    start, end = _day(args["from"]), _day(args["to"])
    if start:
        filters["since"] = wardtime.day_start(start, tz)
    if end:
        filters["until"] = wardtime.day_start(end + dt.timedelta(days=1), tz)
    return filters, args


def dot_map(points: list[geo.AreaPoint], dots: list[tuple[int, float, float, str]], width: int = 360) -> dict[str, Any]:
    """Coordinates for an inline SVG: the ward's area points (grey) and reports (by status)."""
    lats = [p.lat for p in points] + [d[1] for d in dots]
    lons = [p.lon for p in points] + [d[2] for d in dots]
    if not lats:
        return {"width": width, "height": 0, "areas": [], "dots": []}
    # Reports far outside the ward would squash the map: frame the ward, clamp outliers to its edge.
    if points:
        lat0, lat1 = min(p.lat for p in points), max(p.lat for p in points)
        lon0, lon1 = min(p.lon for p in points), max(p.lon for p in points)
    else:
        lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    pad_lat, pad_lon = max((lat1 - lat0) * 0.12, 0.002), max((lon1 - lon0) * 0.12, 0.002)
    lat0, lat1, lon0, lon1 = lat0 - pad_lat, lat1 + pad_lat, lon0 - pad_lon, lon1 + pad_lon
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    height = max(120, int(width * (lat1 - lat0) / ((lon1 - lon0) * kx)))

    def xy(lat: float, lon: float) -> tuple[float, float, bool]:
        inside = lat0 <= lat <= lat1 and lon0 <= lon <= lon1
        lat, lon = min(max(lat, lat0), lat1), min(max(lon, lon0), lon1)
        return round((lon - lon0) / (lon1 - lon0) * width, 1), round((lat1 - lat) / (lat1 - lat0) * height, 1), inside

    areas = [dict(zip(("x", "y"), xy(p.lat, p.lon)[:2], strict=True), name=p.name) for p in points]
    out = []
    for rid, lat, lon, status in dots:
        x, y, inside = xy(lat, lon)
        out.append({"id": rid, "x": x, "y": y, "color": STATUS_COLORS.get(status, "#333"), "inside": inside})
    return {"width": width, "height": height, "areas": areas, "dots": out}


@bp.route("/reports")
@roles("staff")
def reports():
    s = _settings()
    filters, args = _filters()
    try:
        page = max(0, int(request.args.get("page", "0")))
    except ValueError:
        page = 0
    rows = store.list_reports(db(), filters, limit=PAGE, offset=page * PAGE)
    total = store.count_reports(db(), filters)
    kinds = s.kinds()
    return render_template(
        "admin/reports.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PAGE)),
        args=args,
        kinds=kinds,
        kind_names={k.code: k.name for k in kinds},
        areas=s.area_names,
        labels=STATUS_LABELS,
        colors=STATUS_COLORS,
        counts=store.status_counts(db()),
        map=dot_map(s.points(), store.positions(db(), filters)),
    )


@bp.route("/reports/<int:report_id>")
@roles("staff")
def report_detail(report_id: int):
    s = _settings()
    report = store.get_report(db(), report_id)
    if report is None:
        abort(404)
    place = None
    if report["lat"] is not None:
        area, dist = geo.nearest_area(s.points(), report["lat"], report["lon"])
        place = {
            # Some clients send the coordinates again as the "address": not worth showing twice.
            "line_address": None if service.looks_like_coordinates(report["address"]) else report["address"],
            "area": area.name if area else "—",
            "distance": int(dist) if area else None,
            "map_url": geo.map_url(report["lat"], report["lon"]),
        }
    departments = sorted({k.department for k in s.kinds() if k.department} | {report["department"] or ""} - {""})
    return render_template(
        "admin/report.html",
        r=report,
        place=place,
        areas=s.area_names,
        labels=STATUS_LABELS,
        colors=STATUS_COLORS,
        next_statuses=service.TRANSITIONS[report["status"]],
        history=store.changes(db(), report_id),
        notices=store.notices_for(db(), report_id),
        departments=departments,
        original=store.get_report(db(), report["duplicate_of"]) if report["duplicate_of"] else None,
        open311_url=url_for("open311.request_json", request_id=str(report_id)),
    )


@bp.route("/reports/<int:report_id>/status", methods=["POST"])
@roles("staff")
def report_status(report_id: int):
    new_status = request.form.get("status", "")
    dup_raw = request.form.get("duplicate_of", "").strip().lstrip("#")
    duplicate_of = int(dup_raw) if dup_raw.isdigit() else None
    kinds = _settings().kinds()
    try:
        service.change_status(
            db(),
            report_id,
            new_status,
            g.admin_user,
            request.form.get("note", ""),
            request.form.get("status_notes") if request.form.get("status_notes", "").strip() else None,
            duplicate_of,
            lambda report, status, notes: status_notice(report, status, notes, kinds),
            source=f"web {client_ip()}",
        )
    except service.ReportError as exc:
        flash(str(exc))
    else:
        told = "（通報した方にLINEでお知らせします）" if store.get_report(db(), report_id)["user_id"] else ""
        flash(f"受付番号 {report_id} を「{STATUS_LABELS[new_status]}」にしました。{told}")
    return redirect(url_for("admin.report_detail", report_id=report_id))


@bp.route("/reports/<int:report_id>/assign", methods=["POST"])
@roles("staff")
def report_assign(report_id: int):
    department = request.form.get("department", "").strip()[:60] or None
    if not store.update_fields(
        db(), report_id, g.admin_user, "report.assign", f"web {client_ip()}", department=department
    ):
        abort(404)
    flash(f"担当を「{department or '未定'}」にしました。")
    return redirect(url_for("admin.report_detail", report_id=report_id))


@bp.route("/reports/<int:report_id>/publish", methods=["POST"])
@roles("staff")
def report_publish(report_id: int):
    public = request.form.get("public") == "1"
    if not store.update_fields(
        db(), report_id, g.admin_user, "report.publish", f"web {client_ip()}", description_public=int(public)
    ):
        abort(404)
    flash("説明と住所をオープンデータに公開しました。" if public else "説明と住所を非公開にしました。")
    return redirect(url_for("admin.report_detail", report_id=report_id))


@bp.route("/reports/media/<name>")
@roles("staff")
def report_media(name: str):
    if not valid_name(name) or store.photo_by_name(db(), name) is None:
        abort(404)
    data = _settings().media.get(name)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/jpeg")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # OWASP ASVS 1.2.10: a cell starting like a formula is shown as text in Excel.
    return "'" + text if text.startswith(FORMULA_START) else text


@bp.route("/reports.csv")
@roles("staff")
def reports_csv():
    s = _settings()
    filters, _ = _filters()
    rows = store.list_reports(db(), filters, limit=100_000, with_photos=False)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(
        [
            "受付番号",
            "受付日時",
            "種類",
            "状態",
            "地区",
            "住所",
            "緯度",
            "経度",
            "説明",
            "担当",
            "公開",
            "重複元",
            "更新日時",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r["id"],
                    wardtime.format_time(r["created_at"], s.tz),
                    r["kind_name"],
                    STATUS_LABELS.get(r["status"], r["status"]),
                    s.area_names.get(r["area_code"] or "", ""),
                    r["address"],
                    r["lat"],
                    r["lon"],
                    r["description"],
                    r["department"],
                    "公開" if r["description_public"] else "",
                    r["duplicate_of"],
                    wardtime.format_time(r["updated_at"], s.tz),
                )
            ]
        )
    body = codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")
    stamp = wardtime.to_local(time.time(), s.tz).strftime("%Y%m%d")
    return Response(
        body,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="reports_{stamp}.csv"',
        },
    )
