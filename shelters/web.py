"""Public shelter status: /shelters.json, /shelters.geojson, /shelters.csv.

Open data for anyone (a 避難所開設状況 page, maps, other apps): every shelter's source id,
name, address, position, hazards, capacity, status, head count and `updated_at`. Who set a
status is not published.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from common.runtime import services
from shelters import service

bp = Blueprint("shelters", __name__)

PUBLIC_FIELDS = (
    "id",
    "name",
    "kana",
    "address",
    "lat",
    "lon",
    "hazards",
    "capacity",
    "is_shelter",
    "areas",
    "status",
    "head_count",
    "updated_at",
)
CSV_COLUMNS = ("id", "name", "address", "lat", "lon", "hazards", "capacity", "status", "head_count", "updated_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _public_shelters() -> list[dict[str, Any]]:
    rt = services()
    service.ensure_seeded(rt.store, current_app.config.get("SHELTERS_CSV"))
    return [{k: s[k] for k in PUBLIC_FIELDS} for s in service.list_shelters(rt.store.db)]


def _headers(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = "public, max-age=15"  # status changes by the minute in a disaster
    return resp


def _generated_at() -> str:
    return datetime.now(service.JST).isoformat(timespec="seconds")


@bp.get("/shelters.json")
def shelters_json():
    shelters = _public_shelters()
    return _headers(jsonify(generated_at=_generated_at(), count=len(shelters), shelters=shelters))


@bp.get("/shelters.geojson")
def shelters_geojson():
    features = [
        {
            "type": "Feature",
            "id": s["id"],
            "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
            "properties": {k: v for k, v in s.items() if k not in ("lat", "lon")},
        }
        for s in _public_shelters()
    ]
    body = {"type": "FeatureCollection", "generated_at": _generated_at(), "features": features}
    resp = jsonify(body)
    resp.mimetype = "application/geo+json"
    return _headers(resp)


def _cell(value: Any) -> str:
    """One CSV cell, escaped against formula injection (a leading = + - @ gets a quote)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = "|".join(value)
    if isinstance(value, bool):
        value = int(value)
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        text = "'" + text
    return text


@bp.get("/shelters.csv")
def shelters_csv():
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in _public_shelters():
        writer.writerow([_cell(s[c]) for c in CSV_COLUMNS])
    # BOM so that Excel opens the Japanese text correctly.
    resp = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'inline; filename="shelters.csv"'
    return _headers(resp)
