"""SQL for rich menus: the menus LINE holds for us, and which menu each resident is linked to.

`richmenu_menus` maps a menu key (`normal:en`, `disaster:ja`, …) to LINE's richMenuId and the
hash of what was uploaded, so `richmenu sync` only creates what changed. `richmenu_links`
remembers the per-user link we last made; it goes with the resident's row on unfollow.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlite_utils import Database, Migrations

from store import transaction

migrations = Migrations("madoguchi.richmenu")


@migrations(name="0001_richmenu")
def _m0001(db: Database) -> None:
    db.execute(
        """CREATE TABLE richmenu_menus (
            menu_key TEXT PRIMARY KEY,
            line_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            synced_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE richmenu_links (
            user_id TEXT PRIMARY KEY REFERENCES residents(user_id) ON DELETE CASCADE,
            line_id TEXT NOT NULL,
            linked_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX richmenu_links_menu ON richmenu_links(line_id)")
    # One reconciler at a time across processes and hosts (a lease, renewed while it works).
    db.execute(
        """CREATE TABLE richmenu_lease (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT NOT NULL,
            lease_until REAL NOT NULL
        )"""
    )


def menus(db: Database) -> dict[str, tuple[str, str]]:
    """menu key → (LINE richMenuId, content hash)."""
    return {r[0]: (r[1], r[2]) for r in db.execute("SELECT menu_key, line_id, content_hash FROM richmenu_menus")}


def replace_menus(db: Database, rows: dict[str, tuple[str, str]]) -> None:
    """Record the synced set (the whole set: keys not given are forgotten)."""
    now = time.time()
    with transaction(db):
        db.execute("DELETE FROM richmenu_menus")
        for key, (line_id, content_hash) in rows.items():
            db.execute(
                "INSERT INTO richmenu_menus (menu_key, line_id, content_hash, synced_at) VALUES (?, ?, ?, ?)",
                [key, line_id, content_hash, now],
            )


def residents_with_links(db: Database) -> Iterable[tuple[str, str | None, str | None, str | None]]:
    """(user_id, area, lang, linked richMenuId or None) for every resident."""
    yield from db.execute(
        "SELECT r.user_id, r.area, r.lang, l.line_id FROM residents r"
        " LEFT JOIN richmenu_links l ON l.user_id = r.user_id ORDER BY r.user_id"
    )


def residents_signature(db: Database) -> tuple[int, float]:
    """Changes when a resident follows, unfollows or changes area or language (cheap to poll)."""
    row = db.execute("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM residents").fetchone()
    return int(row[0]), float(row[1])


def record_links(db: Database, user_ids: Sequence[str], line_id: str | None) -> None:
    """Remember that these residents now see `line_id` (None: the account default, no link)."""
    now = time.time()
    with transaction(db):
        for uid in user_ids:
            if line_id is None:
                db.execute("DELETE FROM richmenu_links WHERE user_id = ?", [uid])
            else:
                # Only residents who still follow: a link row must never outlive its resident.
                db.execute(
                    "INSERT INTO richmenu_links (user_id, line_id, linked_at)"
                    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM residents WHERE user_id = ?)"
                    " ON CONFLICT(user_id) DO UPDATE SET line_id = excluded.line_id, linked_at = excluded.linked_at",
                    [uid, line_id, now, uid],
                )


def forget_links_to(db: Database, line_ids: Iterable[str]) -> None:
    """Menus deleted at LINE take their links with them."""
    for line_id in line_ids:
        db.execute("DELETE FROM richmenu_links WHERE line_id = ?", [line_id])


def take_lease(db: Database, holder: str, seconds: float, now: float | None = None) -> bool:
    """Hold (or renew) the reconciler lease; False while another live process holds it."""
    now = time.time() if now is None else now
    cur = db.execute(
        "INSERT INTO richmenu_lease (id, holder, lease_until) VALUES (1, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until"
        " WHERE richmenu_lease.lease_until < ? OR richmenu_lease.holder = excluded.holder",
        [holder, now + seconds, now],
    )
    return cur.rowcount == 1


def count_links(db: Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM richmenu_links").fetchone()[0])
