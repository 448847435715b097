"""Staff and operator console under /admin (issue E): server-rendered, Japanese, works on a phone and offline."""

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
from admin import guard  # noqa: E402,F401
from admin import views_auth, views_faq, views_unanswered, views_dashboard, views_audit  # noqa: E402,F401
from admin import views_shelters, views_alerts  # noqa: E402,F401
