"""The dashboard: questions per day, outcome rates, top FAQs, feedback, subscribers, alert deliveries."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app, render_template

import wardtime
from admin import bp
from admin.charts import hbars, stacked_bars
from admin.guard import db, now, roles
from alerts import service as alerts
from bot.runtime import runtime
from common.i18n import LANGUAGE_NAMES_JA
from store import admin as admin_store
from store import core as core_store
from store import residents

log = logging.getLogger(__name__)
DAYS = 14


def _day_ranges(t: float) -> list[tuple[str, float, float]]:
    """The last DAYS calendar days in the ward's zone, oldest first, as (YYYY-MM-DD, start, end)."""
    tz = current_app.config.get("WARD_TZ")
    today = wardtime.local_date(t, tz)
    out = []
    for i in range(DAYS - 1, -1, -1):
        day = today - dt.timedelta(days=i)
        out.append((day.isoformat(), wardtime.day_start(day, tz), wardtime.day_start(day + dt.timedelta(days=1), tz)))
    return out


def _faq_titles() -> dict[str, str]:
    version = core_store.published_faq_version(db())
    if version is None:
        return {}
    return {e["id"]: e["question"] for e in core_store.faq_version_entries(db(), version)}


def _residents() -> dict | None:
    try:
        return residents.resident_counts(db())
    except Exception:  # the dashboard stays up when one of its panels fails
        log.exception("resident_counts failed")
        return None


def _area_names() -> dict[str, str]:
    return runtime().areas.names()


def _alerts() -> list[dict] | None:
    try:
        rows = []
        for a in alerts.list_alerts(db())[:10]:
            st = alerts.status(db(), a["id"])
            rows.append({"alert": a, "status": st})
        return rows
    except Exception:
        log.exception("alert list failed")
        return None


@bp.route("/")
@roles("*")
def dashboard():
    t = now()
    ranges = _day_ranges(t)
    since = ranges[0][1]
    days = admin_store.questions_per_day(db(), ranges)
    outcomes = admin_store.outcome_counts(db(), since)
    total = sum(v for k, v in outcomes.items() if k != "answer_chosen")
    rates = {k: (outcomes.get(k, 0) / total * 100 if total else 0.0) for k in ("answer", "suggest", "fallback")}
    titles = _faq_titles()
    top = [(f"{titles.get(r['faq_id'], r['faq_id'])}", r["n"]) for r in admin_store.top_faqs(db(), since)]
    fb = admin_store.feedback_counts(db(), since)
    residents = _residents()
    area_chart = lang_chart = None
    if residents:
        names = _area_names()
        area_chart = hbars(
            sorted(
                (names.get(k, k) if k and k != "-" else "未選択", v) for k, v in residents.get("by_area", {}).items()
            )
        )
        lang_chart = hbars(
            sorted(
                (
                    (LANGUAGE_NAMES_JA.get(k, k) if k and k != "-" else "未選択", v)
                    for k, v in residents.get("by_lang", {}).items()
                ),
                key=lambda x: -x[1],
            ),
            color="#6a1b9a",
        )
    return render_template(
        "admin/dashboard.html",
        days=DAYS,
        total=total,
        rates=rates,
        chart=stacked_bars(days, [("answer", "回答"), ("suggest", "もしかして"), ("fallback", "回答なし")]),
        top_chart=hbars(top),
        feedback=fb,
        residents=residents,
        area_chart=area_chart,
        lang_chart=lang_chart,
        alerts=_alerts(),
    )
