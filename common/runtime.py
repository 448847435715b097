"""The per-process services every feature may use (storage, the LINE client, the ward's areas),
built once by the app factory and reached through `services()`.

This module is the only place that knows where they are kept on the Flask app: everything else
asks `services()` (features) or `bot.runtime.runtime()` (the bot and above), which are typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # a command that needs only the store does not load the LINE SDK
    from common.areas import Areas
    from common.line_api import LineApi
    from store import Store

_KEY = "madoguchi"


@dataclass
class Services:
    """Objects shared by every request of one process."""

    store: Store
    line: LineApi
    areas: Areas


def install(app: Flask, services: Services) -> None:
    """Keep `services` on `app` (the app factory calls this once)."""
    app.extensions[_KEY] = services


def services(app: Flask | None = None) -> Services:
    """The services of `app` (default: the app of the current request or CLI command)."""
    found = (app or current_app).extensions.get(_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("the app has no madoguchi services: build it with webhook.create_app()")
    return found
