"""Public shelter status: /shelters.json, /shelters.geojson, /shelters.csv (issue D)."""

from flask import Blueprint

bp = Blueprint("shelters", __name__)
