"""Times people read: stored as UTC epoch seconds, shown in the ward's time zone with its label.

One helper for every page, export and CLI line, so a clerk never has to guess whether 09:30 is
UTC or 日本時間. The zone comes from `WARD_TIMEZONE` (default Asia/Tokyo), not from the server's
`TZ`: servers usually run in UTC, and that is exactly the time staff must not see unlabelled.
No Flask here: the CLI, exceptions' messages and the console all call it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Tokyo"
UTC = dt.UTC

# Set once by the app factory; used where no app is at hand (a service's error message).
_zone: ZoneInfo = ZoneInfo(DEFAULT_ZONE)


def load_zone(name: str | None) -> ZoneInfo:
    """The zone called `name` (empty: the default); ValueError names what was given."""
    key = (name or "").strip() or DEFAULT_ZONE
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {key!r} (use an IANA name such as Asia/Tokyo)") from exc


def configure(zone: ZoneInfo | str | None) -> ZoneInfo:
    """Make `zone` the process's ward zone (the app factory calls this with WARD_TIMEZONE)."""
    global _zone
    _zone = zone if isinstance(zone, ZoneInfo) else load_zone(zone)
    return _zone


def ward_zone() -> ZoneInfo:
    return _zone


def to_local(value: float | int | str | dt.datetime, tz: ZoneInfo | None = None) -> dt.datetime:
    """An epoch (UTC seconds), an aware datetime or an ISO 8601 string with offset, in the ward's zone.

    A naive datetime or an ISO string without an offset is taken as UTC, the only zone we store.
    """
    tz = tz or _zone
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def zone_label(moment: dt.datetime) -> str:
    """「JST」 for Japan; other zones' abbreviation, or UTC±hh when the zone has none."""
    abbr = moment.strftime("%Z")
    if abbr and abbr[0] not in "+-":
        return abbr
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")


def format_time(
    value: float | int | str | dt.datetime | None,
    tz: ZoneInfo | None = None,
    *,
    seconds: bool = False,
    label: bool = True,
    empty: str = "—",
) -> str:
    """「2026-12-01 09:30 JST」: the way every person-facing time is written."""
    if value is None or value == "":
        return empty
    try:
        moment = to_local(value, tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {zone_label(moment)}" if label else text


def local_date(ts: float, tz: ZoneInfo | None = None) -> dt.date:
    """The ward's calendar day of an epoch."""
    return to_local(ts, tz).date()


def day_start(day: dt.date, tz: ZoneInfo | None = None) -> float:
    """The epoch at which the ward's calendar `day` begins (correct across DST changes)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz or _zone).timestamp()
