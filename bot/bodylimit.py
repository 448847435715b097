"""Request-body limits: an oversized body is refused with 413 before any of it is read.

The app-wide limit is `MAX_CONTENT_LENGTH` (1 MiB: LINE's webhooks are a few kB). A route
that takes uploads declares its own, larger limit with `@body_limit(...)`, placed under
`@bp.route` so it marks the view function itself. The limit is set on the request in an
app-level before_request, which runs before any blueprint hook that reads a form (CSRF
checks), so even those reads are bounded. Werkzeug then answers 413 for a Content-Length
over the limit without reading, and stops a chunked body at the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

F = TypeVar("F", bound=Callable)
_ATTR = "_madoguchi_body_limit"


def body_limit(limit: int | str) -> Callable[[F], F]:
    """Allow this view a body of `limit` bytes (or the size in the config key `limit`)."""

    def deco(fn: F) -> F:
        setattr(fn, _ATTR, limit)
        return fn

    return deco


def limit_for_request() -> int | None:
    """The body limit of the current request's view (the app-wide one when it declares none)."""
    default = current_app.config.get("MAX_CONTENT_LENGTH")
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _ATTR, None) if view is not None else None
    if limit is None:
        return default
    if isinstance(limit, str):
        return int(current_app.config[limit])
    return int(limit)


def install(app: Flask) -> None:
    @app.before_request
    def _apply_body_limit() -> None:
        request.max_content_length = limit_for_request()
