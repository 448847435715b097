"""Reports as Open311 GeoReport v2 (services and service requests), with the spec's field names.

Public output never carries the reporter (LINE id, name) and no free text staff have not
approved: `description` and the typed address are empty until staff mark the report public;
`address` otherwise names only the area.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from reports.kinds import ReportKind
from store.vocab import OPEN311_GROUPS, REPORT_OPEN, Open311Status, ReportStatus

DEFAULT_DAYS = 90  # the spec: without start_date, the last 90 days
MAX_RESULTS = 1000


class Open311Error(ValueError):
    """A bad request parameter (answered as Open311's error list with HTTP 400)."""


def service(kind: ReportKind) -> dict[str, Any]:
    return {
        "service_code": kind.code,
        "service_name": kind.name,
        "description": kind.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(kind.keywords),
        "group": kind.group or kind.department,
    }


def iso(ts: float | None, tz: ZoneInfo) -> str | None:
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds") if ts else None


def parse_time(value: str | None, name: str) -> float | None:
    """W3C / ISO 8601 (e.g. 2026-12-01T00:00:00+09:00 or …Z); a date alone is midnight UTC."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(f"{name} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def statuses_for(value: str | None) -> list[str]:
    if not value:
        return []
    out: list[str] = []
    for part in value.split(","):
        part = part.strip().lower()
        if part in OPEN311_GROUPS:
            out += OPEN311_GROUPS[Open311Status(part)]
        elif part:
            raise Open311Error("status must be open or closed")
    return out


def request(
    row: dict[str, Any], area_names: dict[str, str], tz: ZoneInfo, media_url: Callable[[str], str]
) -> dict[str, Any]:
    public = bool(row.get("description_public"))
    area = area_names.get(row.get("area_code") or "", "")
    address = " ".join(x for x in (area, row.get("address") or "") if x) if public else area
    notes = row.get("status_notes") or ""
    if row.get("status") == ReportStatus.DUPLICATE and row.get("duplicate_of"):
        notes = " ".join(x for x in (notes, f"duplicate of {row['duplicate_of']}") if x)
    return {
        "service_request_id": str(row["id"]),
        "status": Open311Status.OPEN if row["status"] in REPORT_OPEN else Open311Status.CLOSED,
        "status_notes": notes,
        "service_name": row["kind_name"],
        "service_code": row["kind"],
        "description": (row.get("description") or "") if public else "",
        "agency_responsible": row.get("department") or "",
        "service_notice": "",
        "requested_datetime": iso(row["created_at"], tz),
        "updated_datetime": iso(row.get("updated_at"), tz),
        "expected_datetime": None,
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": row.get("lat"),
        "long": row.get("lon"),
        "media_url": media_url(row["photo"]) if row.get("photo") else None,
    }


def requests(
    rows: Sequence[dict[str, Any]], area_names: dict[str, str], tz: ZoneInfo, media_url: Callable[[str], str]
) -> list[dict[str, Any]]:
    return [request(r, area_names, tz, media_url) for r in rows]
