"""Public Open311 GeoReport v2 endpoints and the published (EXIF-free) report photos."""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for

from common.runtime import services as shared_services
from reports import open311, service
from reports.media import valid_name
from store import reports as store

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


def _settings() -> service.Settings:
    return service.Settings.from_config(current_app.config, shared_services().areas)


def _db():
    return shared_services().store.db


def _error(status: int, description: str) -> Response:
    resp = jsonify([{"code": status, "description": description}])
    resp.status_code = status
    return resp


def _public(resp: Response, max_age: int = 60) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp


def _media_url(name: str) -> str:
    return url_for("open311.media", name=name, _external=True)


@bp.get("/services.json")
def services():
    return _public(jsonify([open311.service(k) for k in _settings().kinds()]), 300)


@bp.get("/requests.json")
def requests_json():
    args = request.args
    try:
        start = open311.parse_time(args.get("start_date"), "start_date")
        end = open311.parse_time(args.get("end_date"), "end_date")
        statuses = open311.statuses_for(args.get("status"))
        ids = [int(x) for x in args.get("service_request_id", "").split(",") if x.strip()]
    except open311.Open311Error as exc:
        return _error(400, str(exc))
    except ValueError:
        return _error(400, "service_request_id must be a comma-separated list of numbers")
    if start is None and end is None and not ids:
        start = time.time() - open311.DEFAULT_DAYS * 86400
    codes = [c.strip() for c in args.get("service_code", "").split(",") if c.strip()]
    s = _settings()
    rows = store.open311_rows(_db(), codes, statuses, start, end, ids, limit=open311.MAX_RESULTS)
    return _public(jsonify(open311.requests(rows, s.area_names, s.tz, _media_url)))


@bp.get("/requests/<request_id>.json")
def request_json(request_id: str):
    if not request_id.isdigit():
        return _error(404, "no such service request")
    s = _settings()
    rows = store.open311_rows(_db(), ids=[int(request_id)], limit=1)
    if not rows:
        return _error(404, "no such service request")
    return _public(jsonify(open311.requests(rows, s.area_names, s.tz, _media_url)))


@bp.get("/media/<name>")
def media(name: str):
    """A published photo: only the full-size copy of a photo attached to a report."""
    if not valid_name(name):
        abort(404)
    photo = store.photo_by_name(_db(), name)
    if photo is None or photo["name"] != name:
        abort(404)
    data = _settings().media.get(name)
    if data is None:
        abort(404)
    resp = Response(data, mimetype="image/jpeg")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return _public(resp, 86400)
