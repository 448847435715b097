"""The report dialogue against the database: each resident action → an `Outcome` the bot renders.

No Flask and no LINE SDK here: the bot fetches photo bytes and turns outcomes into messages.
Every change of a draft is a compare-and-set on its version, so two events of one resident
handled by two processes at once never lose a photo or double a report.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

import wardtime
from common.areas import Areas
from reports import flow, geo, images
from reports.flow import Draft, FlowError, StoredPhoto
from reports.kinds import ReportKind, by_code, load_kinds
from reports.media import MediaStore
from store import reports as store
from store.vocab import REPORT_STATUS, ReportStatus

log = logging.getLogger(__name__)

CANCEL_WORDS = {
    "やめる",
    "やめます",
    "やめて",
    "中止",
    "キャンセル",
    "とりけし",
    "取り消し",
    "cancel",
    "stop report",
    "quit",
}
# Which status may follow which (a closed report can be reopened).
TRANSITIONS = {
    ReportStatus.RECEIVED: (ReportStatus.IN_PROGRESS, ReportStatus.DONE, ReportStatus.REJECTED, ReportStatus.DUPLICATE),
    ReportStatus.IN_PROGRESS: (ReportStatus.DONE, ReportStatus.REJECTED, ReportStatus.DUPLICATE, ReportStatus.RECEIVED),
    ReportStatus.DONE: (ReportStatus.IN_PROGRESS,),
    ReportStatus.REJECTED: (ReportStatus.IN_PROGRESS,),
    ReportStatus.DUPLICATE: (ReportStatus.IN_PROGRESS,),
}


_COORDS = re.compile(r"^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$")
_SETTINGS: dict[int, tuple[Mapping[str, Any], Settings]] = {}


class ReportError(Exception):
    """A staff action that cannot be done (Japanese message for the console)."""


@dataclass
class Settings:
    """What the report feature needs from the configuration (built once per process)."""

    kinds_csv: Path
    area_points_csv: Path
    area_names: dict[str, str]
    media: MediaStore
    per_day: int = 10
    draft_minutes: float = flow.DRAFT_MINUTES
    outside_m: float = 3000.0
    max_photo_bytes: int = images.MAX_BYTES
    timezone: str = "Asia/Tokyo"
    retention_days: int = 365

    @classmethod
    def from_config(cls, config: Mapping[str, Any], areas: Areas) -> Settings:
        """Built from the app's configuration and areas (cached per configuration object)."""
        cached = _SETTINGS.get(id(config))
        if cached is not None and cached[0] is config:
            return cached[1]
        from reports.media import DirectoryMediaStore

        settings = cls(
            kinds_csv=Path(config["REPORT_KINDS_CSV"]),
            area_points_csv=Path(config["REPORT_AREA_POINTS_CSV"]),
            area_names=areas.names(),
            media=DirectoryMediaStore(config["MEDIA_DIR"]),
            per_day=int(config["REPORTS_PER_DAY"]),
            draft_minutes=float(config["REPORT_DRAFT_MINUTES"]),
            outside_m=float(config["REPORT_OUTSIDE_M"]),
            max_photo_bytes=int(float(config["REPORT_PHOTO_MAX_MB"]) * 1024 * 1024),
            timezone=str(config["WARD_TIMEZONE"]),
            retention_days=int(config["REPORT_RETENTION_DAYS"]),
        )
        _SETTINGS[id(config)] = (config, settings)
        return settings

    def kinds(self) -> list[ReportKind]:
        return load_kinds(self.kinds_csv)

    def points(self) -> list[geo.AreaPoint]:
        try:
            return geo.load_points(self.area_points_csv, self.area_names)
        except OSError:
            return []

    @property
    def tz(self) -> ZoneInfo:
        return wardtime.load_zone(self.timezone)


@dataclass
class Outcome:
    """What happened: notes to say (catalog key, fields), then the question of `step` (if any)."""

    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    step: str | None = None
    draft: Draft | None = None
    receipt: int | None = None

    def say(self, key: str, **fields: Any) -> Outcome:
        self.notes.append((key, fields))
        return self


def _asking(draft: Draft, out: Outcome | None = None) -> Outcome:
    out = out or Outcome()
    out.draft = draft
    out.step = flow.next_step(draft)
    return out


def _load(db: Database, s: Settings, user_id: str, now: float) -> tuple[dict[str, Any] | None, Outcome]:
    """The live draft (None when there is none); an expired one is dropped and reported."""
    row = store.get_draft(db, user_id)
    out = Outcome()
    if row is None:
        return None, out
    if row["expired"] or flow.is_expired(row["updated_at"], now, s.draft_minutes):
        dropped = store.drop_draft(db, user_id, now)
        if dropped is not None:
            _delete_media(db, s)
            out.say("report_expired", minutes=int(s.draft_minutes))
        return None, out
    return row, out


def _delete_media(db: Database, s: Settings) -> int:
    """Delete trashed files now (also done by the delivery worker)."""
    names = store.trash_names(db)
    for name in names:
        s.media.delete(name)
    store.forget_trash(db, names)
    return len(names)


def _limit_reached(db: Database, s: Settings, user_id: str, now: float) -> bool:
    return s.per_day > 0 and store.count_since(db, user_id, now - 86400) >= s.per_day


def _mutate(
    db: Database, user_id: str, row: dict[str, Any], change: Callable[[Draft], Draft], now: float, tries: int = 5
) -> Draft:
    """Apply `change` to the stored draft with a version check, re-reading on a conflict."""
    for _ in range(tries):
        draft = change(Draft.from_json(row["state"]))
        if store.update_draft(db, user_id, draft.to_json(), row["version"], now):
            return draft
        fresh = store.get_draft(db, user_id)
        if fresh is None or fresh["expired"]:
            raise FlowError("report_expired_postback")
        row = fresh
    raise FlowError("report_busy")


# --- resident actions ---------------------------------------------------------------------------


def start(db: Database, s: Settings, user_id: str, lang: str, now: float | None = None) -> Outcome:
    """「通報」: begin (or resume) a report."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is not None:
        return _asking(Draft.from_json(row["state"]), out.say("report_resume"))
    if _limit_reached(db, s, user_id, now):
        return out.say("report_limit", n=s.per_day)
    draft = Draft()
    if not store.create_draft(db, user_id, draft.to_json(), lang, now):
        row = store.get_draft(db, user_id)
        draft = Draft.from_json(row["state"]) if row else draft
    return _asking(draft, out.say("report_intro", minutes=int(s.draft_minutes)))


def photo(db: Database, s: Settings, user_id: str, lang: str, data: bytes, now: float | None = None) -> Outcome:
    """A photo's bytes (from LINE's content API): verify, strip metadata, store, add to the draft."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is not None and len(row["state"].get("photos") or ()) >= flow.MAX_PHOTOS:
        return _asking(Draft.from_json(row["state"]), out.say("report_photo_limit", n=flow.MAX_PHOTOS))
    if row is None and _limit_reached(db, s, user_id, now):
        return out.say("report_limit", n=s.per_day)
    try:
        processed = images.process(data, s.max_photo_bytes)
    except images.PhotoError as exc:
        log.info("photo refused: %s", exc)
        out.say(exc.key, mb=s.max_photo_bytes // (1024 * 1024))
        return _asking(Draft.from_json(row["state"]), out) if row is not None else out
    stored = StoredPhoto(
        full=s.media.put(processed.full),
        thumb=s.media.put(processed.thumb),
        width=processed.width,
        height=processed.height,
    )
    try:
        if row is None:
            draft = flow.add_photo(Draft(), stored)
            if not store.create_draft(db, user_id, draft.to_json(), lang, now):
                row = store.get_draft(db, user_id)  # another photo of the same batch was first
                if row is None:  # ... and that report was sent or cancelled in between
                    raise FlowError("report_expired_postback")
                draft = _mutate(db, user_id, row, lambda d: flow.add_photo(d, stored), now)
        else:
            draft = _mutate(db, user_id, row, lambda d: flow.add_photo(d, stored), now)
    except FlowError as exc:
        s.media.delete(stored.full)
        s.media.delete(stored.thumb)
        out.say(exc.key, **exc.fields)
        fresh = store.get_draft(db, user_id)
        return _asking(Draft.from_json(fresh["state"]), out) if fresh and not fresh["expired"] else out
    if len(draft.photos) == 1 and row is None:
        out.say("report_intro", minutes=int(s.draft_minutes))
    return _asking(draft, out.say("report_photo_ok", n=len(draft.photos), max=flow.MAX_PHOTOS))


def photo_failed(db: Database, s: Settings, user_id: str, key: str, now: float | None = None) -> Outcome:
    """The photo could not be fetched or is not a photo (video, file): say so, keep the draft."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    out.say(key)
    return _asking(Draft.from_json(row["state"]), out) if row is not None else out


def location(
    db: Database, s: Settings, user_id: str, lat: float, lon: float, address: str | None, now: float | None = None
) -> Outcome | None:
    """A location: the report's place when a report is in progress, else None (shelter search)."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is None:
        return out if out.notes else None
    area, dist = geo.nearest_area(s.points(), lat, lon)
    try:
        draft = _mutate(
            db,
            user_id,
            row,
            lambda d: flow.set_location(d, lat, lon, address, area.code if area else None, dist, s.outside_m),
            now,
        )
    except FlowError as exc:
        return _asking(Draft.from_json(row["state"]), out.say(exc.key, **exc.fields))
    if not draft.far:
        out.say("report_place_ok", area=area.name if area else "")
    return _asking(draft, out)


def text(db: Database, s: Settings, user_id: str, message: str, now: float | None = None) -> Outcome | None:
    """Free text while a report is in progress (None: no report, the FAQ answers)."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is None:
        return out if out.notes else None
    words = message.strip().lower().rstrip("。.!！")
    if words in CANCEL_WORDS:
        return cancel(db, s, user_id, now)
    draft = Draft.from_json(row["state"])
    step = flow.next_step(draft)
    try:
        if step == flow.PLACE:
            draft = _mutate(db, user_id, row, lambda d: flow.set_address(d, message, s.area_names), now)
            return _asking(draft, out.say("report_address_ok"))
        if step == flow.DESCRIPTION:
            draft = _mutate(db, user_id, row, lambda d: flow.set_description(d, message), now)
            return _asking(draft, out)
        if step == flow.KIND:
            kinds = s.kinds()
            typed = message.strip()
            match = next((k for k in kinds if typed in (k.name, *k.names.values())), None)
            if match is not None:
                draft = _mutate(db, user_id, row, lambda d: flow.set_kind(d, match.code, {match.code}), now)
                return _asking(draft, out)
    except FlowError as exc:
        return _asking(Draft.from_json(row["state"]), out.say(exc.key, **exc.fields))
    return _asking(draft, out.say(f"report_hint_{step}"))


def postback(db: Database, s: Settings, user_id: str, fields: dict[str, str], now: float | None = None) -> Outcome:
    """A button of the dialogue; buttons carry the draft's nonce, so one from a finished,
    cancelled or expired report is recognised and changes nothing."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is None or row["state"].get("nonce") != fields.get("n"):
        if not out.notes:
            out.say("report_expired_postback")
        return out
    action = fields.get("s", "")
    try:
        if action == "cancel":
            return cancel(db, s, user_id, now)
        if action == "nophoto":
            return _asking(_mutate(db, user_id, row, flow.skip_photo, now), out)
        if action == "far_yes":
            return _asking(_mutate(db, user_id, row, flow.confirm_outside, now), out)
        if action == "far_no":
            return _asking(_mutate(db, user_id, row, flow.retry_place, now), out)
        if action == "kind":
            known = {k.code for k in s.kinds()}
            return _asking(_mutate(db, user_id, row, lambda d: flow.set_kind(d, fields.get("v", ""), known), now), out)
        if action == "nodesc":
            return _asking(_mutate(db, user_id, row, lambda d: flow.set_description(d, None), now), out)
        if action == "ok":
            return submit(db, s, user_id, now)
    except FlowError as exc:
        return _asking(Draft.from_json(row["state"]), out.say(exc.key, **exc.fields))
    return _asking(Draft.from_json(row["state"]), out)


def cancel(db: Database, s: Settings, user_id: str, now: float | None = None) -> Outcome:
    now = time.time() if now is None else now
    dropped = store.drop_draft(db, user_id, now)
    _delete_media(db, s)
    return Outcome().say("report_cancelled" if dropped else "report_nothing_to_cancel")


def submit(db: Database, s: Settings, user_id: str, now: float | None = None) -> Outcome:
    """Confirm: the draft becomes a report and the resident gets the receipt number."""
    now = time.time() if now is None else now
    row, out = _load(db, s, user_id, now)
    if row is None:
        return out if out.notes else out.say("report_expired_postback")
    draft = Draft.from_json(row["state"])
    if not flow.ready(draft):
        return _asking(draft, out)
    if _limit_reached(db, s, user_id, now):
        store.drop_draft(db, user_id, now)
        _delete_media(db, s)
        return out.say("report_limit", n=s.per_day)
    kind = by_code(s.kinds(), draft.kind or "") or ReportKind(code=draft.kind or "other", name=draft.kind or "その他")
    report_row = {
        "lang": row.get("lang"),
        "kind": kind.code,
        "kind_name": kind.name,
        "description": draft.description or "",
        "lat": draft.lat,
        "lon": draft.lon,
        "address": draft.address,
        "area_code": draft.area_code,
        "outside": draft.outside_confirmed,
        "department": kind.department,
    }
    photos = [p.__dict__ for p in draft.photos]
    report_id = store.submit(db, user_id, row["version"], report_row, photos, now)
    if report_id is None:  # changed by another event meanwhile: show the summary again
        fresh = store.get_draft(db, user_id)
        if fresh is None:
            return out.say("report_expired_postback")
        return _asking(Draft.from_json(fresh["state"]), out)
    log.info("report %s received (%s)", report_id, kind.code)
    out.receipt = report_id
    return out.say("report_receipt", id=report_id)


def looks_like_coordinates(text: str | None) -> bool:
    return bool(text and _COORDS.match(text))


def summary_fields(s: Settings, draft: Draft, lang: str) -> dict[str, Any]:
    """What the confirmation shows: kind, place, photo count, description."""
    kind = by_code(s.kinds(), draft.kind or "")
    place = draft.address or ""
    if looks_like_coordinates(place):  # some clients send the coordinates as the "address"
        place = ""
    if draft.lat is not None and draft.lon is not None:
        area = s.area_names.get(draft.area_code or "", "")
        coords = f"{draft.lat:.5f}, {draft.lon:.5f}"
        place = " ".join(x for x in (area, place, f"({coords})") if x)
    return {
        "kind": kind.label(lang) if kind else (draft.kind or ""),
        "place": place,
        "photos": len(draft.photos),
        "description": draft.description or "—",
    }


# --- staff side -------------------------------------------------------------------------------------


def change_status(
    db: Database,
    report_id: int,
    new_status: str,
    actor: str,
    note: str,
    status_notes: str | None,
    duplicate_of: int | None,
    render_notice: Callable[[store.Report, str, str | None], list[dict[str, Any]]],
    source: str,
) -> int:
    """Move a report to `new_status` (audited); queue one message to the reporter. Returns the change id."""
    report = store.get_report(db, report_id)
    if report is None:
        raise ReportError("通報が見つかりません。")
    if new_status not in REPORT_STATUS:
        raise ReportError("状態が正しくありません。")
    if new_status == report["status"]:
        raise ReportError("すでにその状態です。")
    if new_status not in TRANSITIONS[report["status"]]:
        raise ReportError(
            f"「{REPORT_STATUS.label(report['status'])}」から「{REPORT_STATUS.label(new_status)}」には変えられません。"
        )
    if new_status == ReportStatus.DUPLICATE:
        if duplicate_of is None or duplicate_of == report_id or store.get_report(db, duplicate_of) is None:
            raise ReportError("重複にするには、元の通報の受付番号を入力してください。")
    note = (note or "").strip()[:1000]
    status_notes = status_notes.strip()[:500] if status_notes is not None else None
    notice = render_notice(report, new_status, status_notes) if report.get("user_id") else None
    change = store.change_status(
        db,
        report_id,
        new_status,
        actor,
        note,
        status_notes,
        duplicate_of,
        notice,
        source,
        expect_status=report["status"],
    )
    if change is None:
        raise ReportError("ほかの職員が先に状態を変えました。画面を開き直してください。")
    return change


def sweep(db: Database, s: Settings, now: float | None = None) -> dict[str, int]:
    """Housekeeping (delivery worker): expire old drafts, delete trashed photos, apply retention."""
    now = time.time() if now is None else now
    expired = store.expire_drafts(db, now - s.draft_minutes * 60, now)
    deleted = _delete_media(db, s)
    forgotten = store.prune_reporters(db, now - s.retention_days * 86400) if s.retention_days > 0 else 0
    return {"expired": expired, "deleted": deleted, "forgotten": forgotten}


def local_time(ts: float | None, s: Settings) -> str:
    """「2026-12-01 09:30 JST」 in the ward's zone."""
    return wardtime.format_time(ts, s.tz)
