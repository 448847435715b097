"""SQL for residents' reports: drafts (the dialogue in progress), reports, photos, status history,
and the status messages to the reporter (queued in the shared outbox, store/outbox.py).

Flow state lives here, not in a process: any web or answer process may take the next event.
A draft is updated with a version check (two photos arriving at once never lose one). The
reporter's LINE id sits only on the report (and its pending messages) and is cleared on
unfollow or after the retention period; the report itself stays, anonymous.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, NotRequired, TypedDict

from sqlite_utils import Database, Migrations

from store import audit as audit_store
from store import outbox as outbox_store
from store import transaction
from store.records import record
from store.vocab import REPORT_CLOSED, ReportStatus

migrations = Migrations("madoguchi.reports")


@migrations(name="0001_reports")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE report_drafts (
            user_id TEXT PRIMARY KEY,
            state_json TEXT NOT NULL,
            lang TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            expired INTEGER NOT NULL DEFAULT 0,
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX report_drafts_updated ON report_drafts(updated_at)")
    db.execute(
        """CREATE TABLE reports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT,
            lang TEXT,
            kind TEXT NOT NULL,
            kind_name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            description_public INTEGER NOT NULL DEFAULT 0,
            lat REAL,
            lon REAL,
            address TEXT,
            area_code TEXT,
            outside INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'received',
            status_notes TEXT NOT NULL DEFAULT '',
            duplicate_of INTEGER REFERENCES reports(id),
            department TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            closed_at REAL
        )"""
    )
    db.execute("CREATE INDEX reports_created ON reports(created_at)")
    db.execute("CREATE INDEX reports_status ON reports(status, created_at)")
    db.execute("CREATE INDEX reports_kind ON reports(kind, created_at)")
    db.execute("CREATE INDEX reports_user ON reports(user_id, created_at)")
    db.execute(
        """CREATE TABLE report_photos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            report_id INTEGER NOT NULL REFERENCES reports(id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL UNIQUE,
            thumb TEXT NOT NULL UNIQUE,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX report_photos_report ON report_photos(report_id, position)")
    db.execute(
        """CREATE TABLE report_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            report_id INTEGER NOT NULL REFERENCES reports(id),
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            note TEXT
        )"""
    )
    db.execute("CREATE INDEX report_changes_report ON report_changes(report_id, id)")
    db.execute(
        """CREATE TABLE report_notices (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            change_id INTEGER NOT NULL UNIQUE REFERENCES report_changes(id),
            report_id INTEGER NOT NULL REFERENCES reports(id),
            user_id TEXT,
            messages_json TEXT NOT NULL,
            retry_key TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            claimed_by TEXT,
            lease_until REAL,
            last_status INTEGER,
            last_error TEXT,
            created_at REAL NOT NULL,
            sent_at REAL
        )"""
    )
    db.execute("CREATE INDEX report_notices_claim ON report_notices(status, next_attempt_at)")
    # Files no longer referenced (cancelled or expired drafts, residents who left): the
    # delivery worker deletes them from MEDIA_DIR (the database never touches files).
    db.execute("CREATE TABLE media_trash (name TEXT PRIMARY KEY, added_at REAL NOT NULL)")


@migrations(name="0002_shared_outbox")
def _m0002(db: Database) -> None:
    # Status messages to reporters now go through the shared outbox (store/outbox.py,
    # kind 'report_status', ref = the report_changes row): one sender, one set of retry rules.
    db.execute("DROP TABLE report_notices")


STATUS_KIND = "report_status"


class Photo(TypedDict):
    """A report's photo as stored under MEDIA_DIR (EXIF stripped), with its thumbnail."""

    id: int
    report_id: int
    position: int
    name: str
    thumb: str
    width: int
    height: int


class Report(TypedDict):
    """A resident's report as stored (a TypedDict like alerts: templates, the CSV export and Open311
    read it by key). `photos` only when the read asked for them."""

    id: int
    user_id: str | None  # the reporter's LINE id: cleared on unfollow and after the retention period
    lang: str | None
    kind: str
    kind_name: str
    description: str
    description_public: bool  # staff made the description public (Open311)
    lat: float | None
    lon: float | None
    address: str | None
    area_code: str | None
    outside: bool  # the reporter confirmed a place outside the ward
    status: ReportStatus
    status_notes: str
    duplicate_of: int | None
    department: str | None
    created_at: float
    updated_at: float
    closed_at: float | None
    photos: NotRequired[list[Photo]]


def _photo(row: dict[str, Any]) -> Photo:
    return record(Photo, row)


def _report(row: dict[str, Any], photos: list[Photo] | None = None) -> Report:
    return record(Report, row) if photos is None else record(Report, row, photos=photos)


# --- drafts -----------------------------------------------------------------------------


def get_draft(db: Database, user_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM report_drafts WHERE user_id = ?", [user_id]))
    if not rows:
        return None
    row = dict(rows[0])
    row["state"] = json.loads(row.pop("state_json"))
    return row


def create_draft(db: Database, user_id: str, state: dict[str, Any], lang: str | None, now: float) -> bool:
    """A new draft; False when the resident already has one (another process was first)."""
    cur = db.execute(
        "INSERT INTO report_drafts (user_id, state_json, lang, version, expired, started_at, updated_at)"
        " VALUES (?, ?, ?, 1, 0, ?, ?) ON CONFLICT(user_id) DO NOTHING",
        [user_id, json.dumps(state, ensure_ascii=False), lang, now, now],
    )
    return cur.rowcount == 1


def update_draft(db: Database, user_id: str, state: dict[str, Any], version: int, now: float) -> bool:
    """Save the draft only if nobody changed it since `version` was read."""
    cur = db.execute(
        "UPDATE report_drafts SET state_json = ?, version = version + 1, updated_at = ?"
        " WHERE user_id = ? AND version = ? AND expired = 0",
        [json.dumps(state, ensure_ascii=False), now, user_id, version],
    )
    return cur.rowcount == 1


def _photo_names(state: dict[str, Any]) -> list[str]:
    return [n for p in state.get("photos") or () for n in (p.get("full"), p.get("thumb")) if n]


def _trash(db: Database, names: Iterable[str], now: float) -> None:
    db.conn.executemany(
        "INSERT INTO media_trash (name, added_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
        [(n, now) for n in names],
    )


def drop_draft(db: Database, user_id: str, now: float | None = None) -> dict[str, Any] | None:
    """Delete a draft (cancel, expiry notice); its photos go to the media trash. Returns it."""
    now = time.time() if now is None else now
    with transaction(db):
        draft = get_draft(db, user_id)
        if draft is None:
            return None
        db.execute("DELETE FROM report_drafts WHERE user_id = ?", [user_id])
        _trash(db, _photo_names(draft["state"]), now)
    return draft


def expire_drafts(db: Database, older_than: float, now: float | None = None) -> int:
    """Mark drafts untouched since `older_than` expired and trash their photos (the row stays a
    day so the resident's next message can say why their report is gone)."""
    now = time.time() if now is None else now
    n = 0
    with transaction(db):
        rows = db.execute(
            "SELECT user_id, state_json FROM report_drafts WHERE expired = 0 AND updated_at < ?", [older_than]
        ).fetchall()
        for user_id, state_json in rows:
            _trash(db, _photo_names(json.loads(state_json)), now)
            db.execute(
                "UPDATE report_drafts SET expired = 1, state_json = ? WHERE user_id = ?",
                [json.dumps({"photos": []}), user_id],
            )
            n += 1
        db.execute("DELETE FROM report_drafts WHERE expired = 1 AND updated_at < ?", [now - 86400])
    return n


def trash_names(db: Database, limit: int = 500) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM media_trash ORDER BY added_at LIMIT ?", [limit])]


def forget_trash(db: Database, names: Sequence[str]) -> None:
    db.conn.executemany("DELETE FROM media_trash WHERE name = ?", [(n,) for n in names])


# --- reports ------------------------------------------------------------------------------


def count_since(db: Database, user_id: str, since: float) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM reports WHERE user_id = ? AND created_at >= ?", [user_id, since]
    ).fetchone()[0]


def submit(
    db: Database,
    user_id: str,
    draft_version: int,
    row: dict[str, Any],
    photos: Sequence[dict[str, Any]],
    now: float,
) -> int | None:
    """Turn the draft into a report in one transaction (None: the draft changed or is gone)."""
    with transaction(db):
        gone = db.execute(
            "DELETE FROM report_drafts WHERE user_id = ? AND version = ? AND expired = 0", [user_id, draft_version]
        ).rowcount
        if not gone:
            return None
        cur = db.execute(
            "INSERT INTO reports (user_id, lang, kind, kind_name, description, lat, lon, address, area_code, outside,"
            " status, department, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?)",
            [
                user_id,
                row.get("lang"),
                row["kind"],
                row["kind_name"],
                row.get("description") or "",
                row.get("lat"),
                row.get("lon"),
                row.get("address"),
                row.get("area_code"),
                int(bool(row.get("outside"))),
                row.get("department") or None,
                now,
                now,
            ],
        )
        report_id = cur.lastrowid
        for i, p in enumerate(photos):
            db.execute(
                "INSERT INTO report_photos (report_id, position, name, thumb, width, height) VALUES (?, ?, ?, ?, ?, ?)",
                [report_id, i, p["full"], p["thumb"], p["width"], p["height"]],
            )
        db.execute(
            "INSERT INTO report_changes (report_id, at, actor, action, to_status) VALUES (?, ?, 'resident', 'create', ?)",
            [report_id, now, ReportStatus.RECEIVED],
        )
    return report_id


def insert_reports(db: Database, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk insert (benchmarks, imports from another system); photos as `photos` lists."""
    n = 0
    with transaction(db):
        for row in rows:
            cur = db.execute(
                "INSERT INTO reports (user_id, lang, kind, kind_name, description, description_public, lat, lon,"
                " address, area_code, status, status_notes, department, created_at, updated_at, closed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row.get("user_id"),
                    row.get("lang"),
                    row["kind"],
                    row["kind_name"],
                    row.get("description", ""),
                    int(bool(row.get("description_public"))),
                    row.get("lat"),
                    row.get("lon"),
                    row.get("address"),
                    row.get("area_code"),
                    row.get("status", ReportStatus.RECEIVED),
                    row.get("status_notes", ""),
                    row.get("department"),
                    row["created_at"],
                    row.get("updated_at", row["created_at"]),
                    row.get("closed_at"),
                ],
            )
            for i, p in enumerate(row.get("photos") or ()):
                db.execute(
                    "INSERT INTO report_photos (report_id, position, name, thumb, width, height) VALUES (?, ?, ?, ?, ?, ?)",
                    [cur.lastrowid, i, p["full"], p["thumb"], p.get("width", 0), p.get("height", 0)],
                )
            n += 1
    return n


def _photos_for(db: Database, ids: Sequence[int]) -> dict[int, list[Photo]]:
    out: dict[int, list[Photo]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        if not chunk:
            continue
        for row in db.query(
            f"SELECT * FROM report_photos WHERE report_id IN ({', '.join('?' for _ in chunk)}) ORDER BY report_id, position",
            chunk,
        ):
            out.setdefault(row["report_id"], []).append(_photo(row))
    return out


def get_report(db: Database, report_id: int) -> Report | None:
    rows = list(db.query("SELECT * FROM reports WHERE id = ?", [report_id]))
    if not rows:
        return None
    return _report(rows[0], _photos_for(db, [report_id]).get(report_id, []))


def _filters(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    where, params = ["1=1"], []
    for key, col in (("status", "status"), ("kind", "kind"), ("area", "area_code"), ("department", "department")):
        value = filters.get(key)
        if value:
            values = [value] if isinstance(value, str) else list(value)
            where.append(f"{col} IN ({', '.join('?' for _ in values)})")
            params += values
    if filters.get("since") is not None:
        where.append("created_at >= ?")
        params.append(filters["since"])
    if filters.get("until") is not None:
        where.append("created_at < ?")
        params.append(filters["until"])
    return " AND ".join(where), params


def list_reports(
    db: Database, filters: dict[str, Any] | None = None, limit: int = 100, offset: int = 0, with_photos: bool = True
) -> list[Report]:
    """Newest first; filters: status, kind, area, department (a value or a list), since/until (epoch)."""
    where, params = _filters(filters or {})
    rows = list(
        db.query(
            f"SELECT * FROM reports WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    )
    if not with_photos:
        return [_report(r) for r in rows]
    photos = _photos_for(db, [r["id"] for r in rows])
    return [_report(r, photos.get(r["id"], [])) for r in rows]


def count_reports(db: Database, filters: dict[str, Any] | None = None) -> int:
    where, params = _filters(filters or {})
    return db.execute(f"SELECT COUNT(*) FROM reports WHERE {where}", params).fetchone()[0]


def status_counts(db: Database) -> dict[str, int]:
    return {s: n for s, n in db.execute("SELECT status, COUNT(*) FROM reports GROUP BY status")}


def positions(
    db: Database, filters: dict[str, Any] | None = None, limit: int = 2000
) -> list[tuple[int, float, float, str]]:
    """(id, lat, lon, status) of reports with coordinates (the console's dot map)."""
    where, params = _filters(filters or {})
    return list(
        db.execute(
            f"SELECT id, lat, lon, status FROM reports WHERE {where} AND lat IS NOT NULL"
            " ORDER BY created_at DESC LIMIT ?",
            [*params, limit],
        )
    )


def changes(db: Database, report_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM report_changes WHERE report_id = ? ORDER BY id", [report_id]))


def photo_by_name(db: Database, name: str) -> Photo | None:
    """A photo attached to a report, by its full-size or console-size name."""
    rows = list(db.query("SELECT * FROM report_photos WHERE name = ? OR thumb = ?", [name, name]))
    return _photo(rows[0]) if rows else None


def change_status(
    db: Database,
    report_id: int,
    new_status: str,
    actor: str,
    note: str,
    status_notes: str | None,
    duplicate_of: int | None,
    notice: list[dict[str, Any]] | None,
    source: str,
    expect_status: str,
    now: float | None = None,
) -> int | None:
    """Record a status change, its audit entry and (when the reporter is known) one message to
    them — all in one transaction. None when the status changed meanwhile (someone else was first)."""
    now = time.time() if now is None else now
    with transaction(db):
        row = db.execute("SELECT status, user_id, lang FROM reports WHERE id = ?", [report_id]).fetchone()
        if row is None or row[0] != expect_status:
            return None
        lang = row[2]
        closed = now if new_status in REPORT_CLOSED else None
        db.execute(
            "UPDATE reports SET status = ?, status_notes = COALESCE(?, status_notes), duplicate_of = ?,"
            " updated_at = ?, closed_at = ? WHERE id = ?",
            [
                new_status,
                status_notes,
                duplicate_of if new_status == ReportStatus.DUPLICATE else None,
                now,
                closed,
                report_id,
            ],
        )
        cur = db.execute(
            "INSERT INTO report_changes (report_id, at, actor, action, from_status, to_status, note)"
            " VALUES (?, ?, ?, 'status', ?, ?, ?)",
            [report_id, now, actor, expect_status, new_status, note],
        )
        change_id = cur.lastrowid
        audit_store.record(
            db,
            actor,
            "report.status",
            f"report:{report_id}",
            {"from": expect_status, "to": new_status, "note": note, "duplicate_of": duplicate_of},
            source=source,
        )
        user_id = row[1]
        if user_id and notice:
            # In this transaction: the change and its one message commit together, or neither.
            outbox_store.enqueue_push(db, STATUS_KIND, change_id, user_id, notice, lang or "ja")  # type: ignore[arg-type]
    return change_id


def update_fields(db: Database, report_id: int, actor: str, action: str, source: str, **fields: Any) -> bool:
    """Change department / description_public (audited; residents are not told)."""
    allowed = {"department", "description_public"}
    if not fields or set(fields) - allowed:
        raise ValueError("only department and description_public can be changed here")
    now = time.time()
    with transaction(db):
        cols = list(fields)
        n = db.execute(
            f"UPDATE reports SET {', '.join(f'{c} = ?' for c in cols)}, updated_at = ? WHERE id = ?",
            [*(fields[c] for c in cols), now, report_id],
        ).rowcount
        if not n:
            return False
        note = json.dumps(fields, ensure_ascii=False)
        db.execute(
            "INSERT INTO report_changes (report_id, at, actor, action, note) VALUES (?, ?, ?, ?, ?)",
            [report_id, now, actor, action, note],
        )
        audit_store.record(db, actor, action, f"report:{report_id}", fields, source=source)
    return True


def forget_user(db: Database, user_id: str, now: float | None = None) -> None:
    """Unfollow: reports stay, anonymous; unsent messages and the draft (photos trashed) go."""
    now = time.time() if now is None else now
    # (Unsent status messages leave with the resident through store.outbox.forget_user.)
    db.execute("UPDATE reports SET user_id = NULL WHERE user_id = ?", [user_id])
    row = db.execute("SELECT state_json FROM report_drafts WHERE user_id = ?", [user_id]).fetchone()
    if row:
        _trash(db, _photo_names(json.loads(row[0])), now)
        db.execute("DELETE FROM report_drafts WHERE user_id = ?", [user_id])


def prune_reporters(db: Database, closed_before: float) -> int:
    """Retention: forget who reported a report closed before `closed_before`."""
    with transaction(db):
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM reports WHERE user_id IS NOT NULL AND closed_at IS NOT NULL AND closed_at < ?",
                [closed_before],
            ).fetchall()
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            db.execute(f"UPDATE reports SET user_id = NULL WHERE id IN ({marks})", chunk)
            # The sent status messages' recipient lists name the reporter too.
            db.execute(
                "DELETE FROM outbox_recipients WHERE batch_id IN (SELECT b.id FROM outbox_batches b"
                f" JOIN report_changes c ON b.kind = ? AND b.ref = c.id WHERE c.report_id IN ({marks}))",
                [STATUS_KIND, *chunk],
            )
    return len(ids)


# --- status messages (in the shared outbox) ---------------------------------------------------------


def notices_for(db: Database, report_id: int) -> list[dict[str, Any]]:
    """The status messages of a report's changes: status, attempts, last HTTP status, when."""
    return list(
        db.query(
            "SELECT b.id, b.ref AS change_id, b.status, b.attempts, b.last_status, b.created_at, b.sent_at"
            " FROM outbox_batches b JOIN report_changes c ON b.kind = ? AND b.ref = c.id"
            " WHERE c.report_id = ? ORDER BY b.id",
            [STATUS_KIND, report_id],
        )
    )


# --- Open311 -------------------------------------------------------------------------------------


def open311_rows(
    db: Database,
    service_codes: Sequence[str] = (),
    statuses: Sequence[str] = (),
    start: float | None = None,
    end: float | None = None,
    ids: Sequence[int] = (),
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Reports for the public API: only public columns (never user_id), newest first, with photo names."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if ids:
        where.append(f"id IN ({', '.join('?' for _ in ids)})")
        params += list(ids)
    if service_codes:
        where.append(f"kind IN ({', '.join('?' for _ in service_codes)})")
        params += list(service_codes)
    if statuses:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params += list(statuses)
    if start is not None:
        where.append("created_at >= ?")
        params.append(start)
    if end is not None:
        where.append("created_at <= ?")
        params.append(end)
    rows = [
        dict(r)
        for r in db.query(
            "SELECT id, kind, kind_name, description, description_public, lat, lon, address, area_code, status,"
            " status_notes, department, created_at, updated_at, duplicate_of FROM reports"
            f" WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
    ]
    first: dict[int, str] = {}
    ids_found = [r["id"] for r in rows]
    for start_i in range(0, len(ids_found), 500):
        chunk = ids_found[start_i : start_i + 500]
        for rid, name in db.execute(
            f"SELECT report_id, name FROM report_photos WHERE position = 0 AND report_id IN ({', '.join('?' for _ in chunk)})",
            chunk,
        ):
            first[rid] = name
    for r in rows:
        r["photo"] = first.get(r["id"])
    return rows
