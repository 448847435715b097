"""The audit log page (admin): who did what, when, from where — in words, the record unchanged."""

from __future__ import annotations

from flask import render_template, request

from admin import bp
from admin.audit_text import GROUPS, AuditText
from admin.guard import db, roles
from store import audit as audit_store


@bp.route("/audit")
@roles("admin")
def audit_log():
    prefix = request.args.get("action", "").strip() or None
    rows = audit_store.entries(db(), limit=500, action_prefix=prefix)
    failures = audit_store.login_failures(db(), limit=100)
    return render_template(
        "admin/audit.html", rows=rows, prefix=prefix or "", failures=failures, groups=GROUPS, text=AuditText()
    )
