"""Where a report is: the nearest area of the ward (from representative points) and whether it is inside."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from excelcsv import CsvError, CsvInvalid, Sheet

EARTH_M = 6_371_000.0


@dataclass(frozen=True)
class AreaPoint:
    code: str
    name: str
    lat: float
    lon: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def parse_points(data: bytes, names: dict[str, str]) -> list[AreaPoint]:
    """`code,lat,lon` rows; `names` maps area codes to names (areas.csv)."""
    sheet = Sheet(data)
    errors = [
        CsvError(sheet.header_line, c, "required column is missing")
        for c in ("code", "lat", "lon")
        if c not in sheet.header
    ]
    if errors:
        raise CsvInvalid(errors)
    out = []
    for record in sheet.rows():
        line, row = record.line, sheet.as_dict(record)
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except ValueError:
            errors.append(CsvError(line, "lat", "not a number"))
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors.append(CsvError(line, "lat", "out of range"))
            continue
        out.append(AreaPoint(row["code"], names.get(row["code"], row["code"]), lat, lon))
    errors.extend(sheet.errors)
    if errors:
        raise CsvInvalid(sorted(errors, key=lambda e: e.line))
    return out


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float, names: tuple[tuple[str, str], ...]) -> tuple[AreaPoint, ...]:
    return tuple(parse_points(Path(path).read_bytes(), dict(names)))


def load_points(path: str | Path, names: dict[str, str]) -> list[AreaPoint]:
    p = Path(path)
    return list(_cached(str(p), p.stat().st_mtime, tuple(sorted(names.items()))))


def nearest_area(points: list[AreaPoint], lat: float, lon: float) -> tuple[AreaPoint | None, float]:
    """The closest area point and its distance in metres (None, inf without points)."""
    best, best_d = None, math.inf
    for p in points:
        d = distance_m(lat, lon, p.lat, p.lon)
        if d < best_d:
            best, best_d = p, d
    return best, best_d


def map_url(lat: float, lon: float) -> str:
    """A link out to a map (no tile server is reachable offline; the console links out)."""
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
