"""Staff and operator console under /admin (issue E)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
