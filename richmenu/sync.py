"""Put the menus of the menu file on LINE, idempotently, and say what LINE holds.

Each menu × language is one LINE rich menu named `madoguchi <menu> <lang> <hash>`, the hash
covering the request body and the image. A sync creates only the menus whose hash is new
(LINE does not let an uploaded image be replaced), uploads their images before anything
points at them, makes `normal ja` the account default, records the set, and then deletes
every older `madoguchi …` menu: running it twice leaves the same menus and creates nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

from sqlite_utils import Database

from common.line_api import LineApi
from richmenu.draw import render_menu
from richmenu.spec import LANGS, Menu, menu_request
from store import richmenu as menu_store

log = logging.getLogger(__name__)
NAME_PREFIX = "madoguchi "
DEFAULT_KEY = "normal:ja"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    default_id: str | None = None


@dataclass(frozen=True)
class Planned:
    key: str
    name: str
    body: dict[str, object]
    image: bytes
    content_hash: str


def plan(menus: dict[str, Menu]) -> list[Planned]:
    """Every menu in every language, with its request body, image and content hash."""
    out = []
    for menu in menus.values():
        for lang in LANGS:
            image = render_menu(menu, lang)
            probe = menu_request(menu, lang, name="")
            digest = hashlib.sha256(json.dumps(probe, sort_keys=True, ensure_ascii=False).encode())
            digest.update(image)
            content_hash = digest.hexdigest()[:12]
            name = f"{NAME_PREFIX}{menu.name} {lang} {content_hash}"
            out.append(Planned(f"{menu.name}:{lang}", name, menu_request(menu, lang, name=name), image, content_hash))
    return out


def sync(db: Database, line: LineApi, menus: dict[str, Menu]) -> SyncReport:
    report = SyncReport()
    planned = plan(menus)
    existing = {m["name"]: m["richMenuId"] for m in line.rich_menus() if m.get("name", "").startswith(NAME_PREFIX)}
    ids: dict[str, tuple[str, str]] = {}
    for p in planned:
        line_id = existing.get(p.name)
        if line_id is not None:
            report.kept.append(p.key)
        else:
            line_id = line.create_rich_menu(p.body)
            try:
                line.set_rich_menu_image(line_id, p.image)
            except Exception:
                line.delete_rich_menu(line_id)  # never leave a menu without its image
                raise
            report.created.append(p.key)
            log.info("rich menu %s created", p.key)
        ids[p.key] = (line_id, p.content_hash)
    default_id = ids[DEFAULT_KEY][0]
    if line.default_rich_menu() != default_id:
        line.set_default_rich_menu(default_id)
    report.default_id = default_id
    menu_store.replace_menus(db, ids)
    keep = {line_id for line_id, _ in ids.values()}
    stale = [line_id for line_id in existing.values() if line_id not in keep]
    for line_id in stale:
        line.delete_rich_menu(line_id)
        report.deleted.append(line_id)
    menu_store.forget_links_to(db, stale)
    return report


def status(db: Database, line: LineApi) -> dict[str, object]:
    """What LINE holds and what we recorded, side by side."""
    recorded = menu_store.menus(db)
    on_line = line.rich_menus()
    default_id = line.default_rich_menu()
    by_id = {line_id: key for key, (line_id, _) in recorded.items()}
    return {
        "default": default_id,
        "default_key": by_id.get(default_id or ""),
        "menus": [
            {
                "richMenuId": m["richMenuId"],
                "name": m.get("name"),
                "chatBarText": m.get("chatBarText"),
                "areas": len(m.get("areas") or []),
                "key": by_id.get(m["richMenuId"]),
            }
            for m in on_line
        ],
        "missing": sorted(
            k for k, (line_id, _) in recorded.items() if line_id not in {m["richMenuId"] for m in on_line}
        ),
        "linked_residents": menu_store.count_links(db),
    }
