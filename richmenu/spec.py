"""The ward's rich-menu file: one CSV row per tile, validated against LINE's limits.

Columns: `menu` (normal | disaster), `row`, `col` (1-based on a 3-column grid; a menu with one
row is drawn 2500×843, with two rows 2500×1686), `span` (columns the tile covers, default 1),
`action`, `value`, `color` (tile background, #rrggbb), then one label column per language
(`ja` required; `easy`, `en`, `zh`, `zh-Hant`, `ko`, `vi`, `pt` fall back to `ja`).

Actions:
- `say`      — as if the resident typed `value` (a Japanese command the bot understands); sent
               as a postback whose displayText is the label in the resident's language, so the
               tile works the same in every language.
- `message`  — LINE's message action: the resident sends `value` (or the label when empty).
- `postback` — `value` is the postback data (≤ 300 characters).
- `location` — opens LINE's "send location" screen (`https://line.me/R/nv/location/`): the
               location action itself is allowed in quick replies only, not in rich menus.
- `uri`      — opens `value` (https: or tel:).
A row with action `chatbar` (row and col empty) gives the menu's chat-bar text per language (≤ 14).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from excelcsv import CsvError, CsvInvalid, Sheet

MENUS = ("normal", "disaster")
LANGS = ("ja", "easy", "en", "zh", "zh-Hant", "ko", "vi", "pt")
ACTIONS = ("say", "message", "postback", "location", "uri", "chatbar")
COLUMNS = 3
WIDTH = 2500
ROW_HEIGHT = 843
MAX_AREAS = 20  # LINE: at most 20 tap areas per menu
CHAT_BAR_MAX = 14  # LINE: chatBarText ≤ 14 characters
LABEL_MAX = 20  # what fits a tile readably (and LINE's action label limit)
DATA_MAX = 300  # LINE: postback data, displayText and message text ≤ 300
URI_MAX = 1000
LOCATION_URI = "https://line.me/R/nv/location/"
REQUIRED = ("menu", "row", "col", "action", "value", "color", "ja")
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


# The menu file's errors are worded in Japanese (staff read them in the CLI and the console).
MenuFileError = CsvError


class MenuFileInvalid(CsvInvalid):
    """The file was refused; `errors` lists every problem."""


@dataclass(frozen=True)
class Tile:
    row: int
    col: int
    span: int
    action: str
    value: str
    color: str
    labels: dict[str, str]
    line: int

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels["ja"]


@dataclass
class Menu:
    name: str
    tiles: list[Tile] = field(default_factory=list)
    chat_bar: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return max((t.row for t in self.tiles), default=1)

    @property
    def size(self) -> tuple[int, int]:
        return WIDTH, ROW_HEIGHT * self.rows

    def chat_bar_text(self, lang: str) -> str:
        return self.chat_bar.get(lang) or self.chat_bar.get("ja") or "メニュー"


def _int(value: str, line: int, column: str, lo: int, hi: int, errors: list[MenuFileError]) -> int:
    try:
        n = int(value)
    except ValueError:
        errors.append(MenuFileError(line, column, f"数字を書いてください（{value!r}）"))
        return lo
    if not lo <= n <= hi:
        errors.append(MenuFileError(line, column, f"{lo}〜{hi} の数字にしてください（{n}）"))
        return lo
    return n


def _check_value(action: str, value: str, line: int, errors: list[MenuFileError]) -> None:
    if action in ("say", "postback") and not value:
        errors.append(MenuFileError(line, "value", f"{action} には value が必要です"))
    if len(value) > (URI_MAX if action == "uri" else DATA_MAX):
        errors.append(MenuFileError(line, "value", "value が長すぎます"))
    if action == "uri" and not (value.startswith("https://") or value.startswith("tel:")):
        errors.append(MenuFileError(line, "value", "uri は https:// か tel: で始めてください"))


def _check_grid(menus: dict[str, Menu], errors: list[MenuFileError]) -> None:
    for menu in menus.values():
        if not menu.tiles:
            errors.append(MenuFileError(1, "menu", f"メニュー {menu.name} にタイルがありません"))
            continue
        if len(menu.tiles) > MAX_AREAS:
            errors.append(
                MenuFileError(
                    menu.tiles[MAX_AREAS].line, "menu", f"メニュー {menu.name} のタイルが {MAX_AREAS} を超えています"
                )
            )
        taken: dict[tuple[int, int], int] = {}
        for tile in menu.tiles:
            if tile.col + tile.span - 1 > COLUMNS:
                errors.append(MenuFileError(tile.line, "span", f"右端（{COLUMNS} 列目）を超えています"))
            for c in range(tile.col, min(COLUMNS, tile.col + tile.span - 1) + 1):
                if (tile.row, c) in taken:
                    errors.append(
                        MenuFileError(tile.line, "col", f"line {taken[(tile.row, c)]} のタイルと重なっています")
                    )
                taken[(tile.row, c)] = tile.line
        if menu.rows > 2:
            errors.append(MenuFileError(menu.tiles[-1].line, "row", "行は 1 か 2 にしてください"))


def parse_menu_csv(data: bytes) -> dict[str, Menu]:
    """Parse and validate the whole file; raise MenuFileInvalid listing every problem."""
    try:
        sheet = Sheet(data)
    except CsvInvalid as exc:
        raise MenuFileInvalid([e.in_japanese() for e in exc.errors]) from None
    header, top = sheet.header, sheet.header_line
    errors: list[MenuFileError] = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise MenuFileInvalid([MenuFileError(top, c, "必須の列がありません") for c in missing])
    unknown = [h for h in header if h and h not in REQUIRED and h != "span" and h not in LANGS]
    errors.extend(MenuFileError(top, h, "知らない列です（言語は " + ", ".join(LANGS) + "）") for h in unknown)
    menus = {name: Menu(name) for name in MENUS}
    for record in sheet.rows():
        _parse_row(sheet.as_dict(record), record.line, menus, errors)
    errors.extend(e.in_japanese() for e in sheet.errors)
    _check_grid(menus, errors)
    if errors:
        raise MenuFileInvalid(sorted(errors, key=lambda e: e.line))
    return menus


def _parse_row(row: dict[str, str], line: int, menus: dict[str, Menu], errors: list[MenuFileError]) -> None:
    name, action, value = row["menu"], row["action"], row["value"]
    if name not in MENUS:
        errors.append(MenuFileError(line, "menu", f"menu は {' / '.join(MENUS)} のどれかです（{name!r}）"))
        return
    if action not in ACTIONS:
        errors.append(
            MenuFileError(line, "action", f"知らない action です（{action!r}。使えるもの: {', '.join(ACTIONS)}）")
        )
        return
    labels = {lang: row.get(lang, "") for lang in LANGS if row.get(lang)}
    if "ja" not in labels:
        errors.append(MenuFileError(line, "ja", "日本語のラベルが必要です"))
        return
    limit = CHAT_BAR_MAX if action == "chatbar" else LABEL_MAX
    for lang, label in labels.items():
        if len(label) > limit:
            errors.append(MenuFileError(line, lang, f"ラベルが長すぎます（{len(label)} 文字、{limit} 文字まで）"))
    if action == "chatbar":
        menus[name].chat_bar = labels
        return
    _check_value(action, value, line, errors)
    if not _COLOR_RE.match(row["color"]):
        errors.append(MenuFileError(line, "color", f"色は #rrggbb で書いてください（{row['color']!r}）"))
    r = _int(row["row"], line, "row", 1, 2, errors)
    c = _int(row["col"], line, "col", 1, COLUMNS, errors)
    span = _int(row.get("span") or "1", line, "span", 1, COLUMNS, errors)
    menus[name].tiles.append(Tile(r, c, span, action, value, row["color"].lower(), labels, line))


def load_menu_file(path: str | Path) -> dict[str, Menu]:
    return parse_menu_csv(Path(path).read_bytes())


def tile_bounds(menu: Menu, tile: Tile) -> dict[str, int]:
    """The tile's tap area in image pixels (the grid is 3 equal columns)."""
    col_w = WIDTH // COLUMNS
    x = (tile.col - 1) * col_w
    w = WIDTH - x if tile.col + tile.span - 1 == COLUMNS else col_w * tile.span
    return {"x": x, "y": (tile.row - 1) * ROW_HEIGHT, "width": w, "height": ROW_HEIGHT}


def tile_action(tile: Tile, lang: str) -> dict[str, str]:
    """The LINE action object of a tile for one language."""
    label = tile.label(lang)
    if tile.action == "say":
        return {
            "type": "postback",
            "label": label,
            "data": urlencode({"a": "say", "t": tile.value}),
            "displayText": label,
        }
    if tile.action == "message":
        return {"type": "message", "label": label, "text": tile.value or label}
    if tile.action == "postback":
        return {"type": "postback", "label": label, "data": tile.value, "displayText": label}
    if tile.action == "location":
        return {"type": "uri", "label": label, "uri": LOCATION_URI}
    return {"type": "uri", "label": label, "uri": tile.value}


def menu_request(menu: Menu, lang: str, name: str) -> dict[str, object]:
    """The body of `POST /v2/bot/richmenu` for one menu in one language."""
    width, height = menu.size
    return {
        "size": {"width": width, "height": height},
        "selected": menu.name == "disaster",
        "name": name,
        "chatBarText": menu.chat_bar_text(lang),
        "areas": [{"bounds": tile_bounds(menu, t), "action": tile_action(t, lang)} for t in menu.tiles],
    }
