"""The unanswered-questions queue: grouped fallbacks, 「解決しない」 feedback, make-an-FAQ, ignore."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from admin import bp
from admin.grouping import group_queries
from admin.guard import audit, db, now, roles
from common.i18n import LANGUAGE_NAMES_JA
from store import admin as admin_store
from store import core as core_store

WINDOW_DAYS = 90


@bp.route("/unanswered")
@roles("staff")
def unanswered():
    since = now() - WINDOW_DAYS * 86400
    groups = group_queries(admin_store.unanswered_rows(db(), since))
    feedback = admin_store.unhelpful_feedback(db(), since)
    version = core_store.published_faq_version(db())
    titles = {e["id"]: e["question"] for e in core_store.faq_version_entries(db(), version)} if version else {}
    return render_template(
        "admin/unanswered.html",
        groups=groups,
        feedback=feedback,
        days=WINDOW_DAYS,
        faq_titles=titles,
        lang_names=LANGUAGE_NAMES_JA,
    )


@bp.route("/unanswered/ignore", methods=["POST"])
@roles("staff")
def unanswered_ignore():
    queries = [q for q in request.form.getlist("query") if q.strip()][:500]
    if queries:
        n = admin_store.ignore_queries(db(), queries, by=_user())
        audit("unanswered.ignore", None, {"queries": len(queries), "rows": n})
        flash(f"{len(queries)} 件の質問を今後表示しないようにしました。")
    return redirect(url_for("admin.unanswered"))


def _user() -> str:
    from flask import g

    return g.admin_user
