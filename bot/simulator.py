"""Dev mode only: /simulator sends you to the chat page served by the LINE emulator."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect

bp = Blueprint("simulator", __name__)


@bp.get("/simulator")
def simulator():
    return redirect(current_app.config["SIMULATOR_URL"])
