"""Staff and operator console under /admin: server-rendered, Japanese, works on a phone and offline."""

from flask import Blueprint

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Importing the view modules registers their routes on `bp` (guard first: it installs the checks).
from admin import (  # noqa: E402,F401
    guard,
    views_alerts,
    views_audit,
    views_auth,
    views_dashboard,
    views_faq,
    views_garbage,
    views_listening,
    views_reports,
    views_shelters,
    views_unanswered,
)
