"""Rich-menu images drawn from the menu file (Pillow), one per menu and language.

Labels are set as large as the tile allows (a phone shows the 2500 px image about 360 pt wide,
so 100 px here is about 14 pt there) and in black or white, whichever contrasts more with the
tile colour; `contrast_ratio` is WCAG 2's formula, and the tests hold every tile to AA (4.5).
Fonts: Debian's fonts-noto-cjk (Japanese, Chinese, Korean) and DejaVu Sans (Latin, Vietnamese).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from richmenu.spec import Menu, Tile, tile_bounds

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# Face names inside Noto Sans CJK's collection, by language.
_CJK_FACE = {"ja": "JP", "easy": "JP", "zh": "SC", "zh-Hant": "TC", "ko": "KR"}
MAX_BYTES = 1_000_000  # LINE refuses rich-menu images over 1 MB
GAP = 12  # white rule between tiles, in px
BLACK, WHITE = (17, 17, 17), (255, 255, 255)


class FontMissing(RuntimeError):
    """No font can draw this language; says which Debian package to install."""


def _find(name: str) -> Path | None:
    for base in FONT_DIRS:
        if base.is_dir():
            for path in base.rglob(name):
                return path
    return None


@lru_cache(maxsize=64)
def _font(lang: str, size: int) -> ImageFont.FreeTypeFont:
    if lang in _CJK_FACE:
        path = _find("NotoSansCJK-Bold.ttc") or _find("NotoSansCJK-Regular.ttc")
        if path is None:
            raise FontMissing("日本語・中国語・韓国語のフォントがありません: Debian の fonts-noto-cjk を入れてください")
        for index in range(10):
            try:
                font = ImageFont.truetype(str(path), size, index=index)
            except OSError:
                break
            if (font.getname()[0] or "").endswith(f" {_CJK_FACE[lang]}"):
                return font
        return ImageFont.truetype(str(path), size, index=0)
    path = _find("DejaVuSans-Bold.ttf") or _find("DejaVuSans.ttf")
    if path is None:
        raise FontMissing("欧文フォントがありません: Debian の fonts-dejavu-core を入れてください")
    return ImageFont.truetype(str(path), size)


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color(background: str) -> tuple[int, int, int]:
    bg = _hex(background)
    return WHITE if contrast_ratio(WHITE, bg) >= contrast_ratio(BLACK, bg) else BLACK


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int, split_words: bool = True
) -> list[str] | None:
    """Break at spaces (and after ・ or 、); a word longer than the line breaks between characters
    (or, with split_words=False, the layout is refused: None)."""
    words: list[str] = []
    for chunk in text.replace("・", "・ ").replace("、", "、 ").split(" "):
        if chunk:
            words.append(chunk)
    lines: list[str] = []
    current = ""
    for word in words:
        joiner = "" if not current or current.endswith(("・", "、")) or _cjk(current[-1]) and _cjk(word[0]) else " "
        trial = current + joiner + word if current else word
        if draw.textlength(trial, font=font) <= width:
            current = trial
            continue
        if current:
            lines.append(current)
        current = ""
        if draw.textlength(word, font=font) > width and not split_words:
            return None
        for ch in word:
            if draw.textlength(current + ch, font=font) <= width or not current:
                current += ch
            else:
                lines.append(current)
                current = ch
    if current:
        lines.append(current)
    return lines


def _cjk(ch: str) -> bool:
    """Japanese and Chinese run words together; Korean (Hangul) keeps its spaces."""
    code = ord(ch)
    return code >= 0x3000 and not (0xAC00 <= code <= 0xD7AF or 0x3130 <= code <= 0x318F)


def layout_label(label: str, lang: str, box_w: int, box_h: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (140 → 64 px) at which the label fits the box in at most 3 lines."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # Keep words whole at a readable size when the label allows it (「よくある質問」, not
    # 「よくある質」+「問」); then Japanese/Chinese may break between characters, while a long
    # Latin word (Configurações) gets a smaller size instead.
    cjk = lang in ("ja", "easy", "zh", "zh-Hant")
    passes = ((False, range(140, 95, -4)), (cjk, range(140, 63, -4)))
    for split_words, sizes in passes:
        for size in sizes:
            font = _font(lang, size)
            lines = _wrap(probe, label, font, box_w, split_words)
            if lines is not None and len(lines) <= 3 and len(lines) * size * 1.25 <= box_h:
                return font, lines
    font = _font(lang, 64)
    return font, (_wrap(probe, label, font, box_w) or [label])[:3]


def _draw_tile(draw: ImageDraw.ImageDraw, menu: Menu, tile: Tile, lang: str) -> None:
    b = tile_bounds(menu, tile)
    x0, y0 = b["x"] + GAP // 2, b["y"] + GAP // 2
    x1, y1 = b["x"] + b["width"] - GAP // 2 - 1, b["y"] + b["height"] - GAP // 2 - 1
    draw.rounded_rectangle((x0, y0, x1, y1), radius=36, fill=_hex(tile.color))
    fg = text_color(tile.color)
    font, lines = layout_label(tile.label(lang), lang, x1 - x0 - 120, y1 - y0 - 120)
    line_h = int(font.size * 1.25)
    top = (y0 + y1) // 2 - line_h * len(lines) // 2
    for i, line in enumerate(lines):
        draw.text(((x0 + x1) // 2, top + i * line_h + line_h // 2), line, font=font, fill=fg, anchor="mm")
    if tile.action == "location":
        # A pin under the label: the tile opens LINE's location sender.
        cx, cy, r = (x0 + x1) // 2, y1 - 90, 34
        draw.ellipse((cx - r, cy - r - 30, cx + r, cy + r - 30), outline=fg, width=10)
        draw.polygon([(cx - 24, cy + 4), (cx + 24, cy + 4), (cx, cy + 50)], fill=fg)


_RENDERED: dict[str, bytes] = {}


def render_menu(menu: Menu, lang: str) -> bytes:
    """PNG bytes of one menu in one language (deterministic: the same file gives the same bytes)."""
    # Drawing takes ~0.3 s a menu; a sync, status or test run draws the same ones again.
    key = json.dumps([menu.name, lang, [asdict(t) for t in menu.tiles]], sort_keys=True, ensure_ascii=False)
    if key not in _RENDERED:
        if len(_RENDERED) > 256:
            _RENDERED.clear()
        _RENDERED[key] = _render(menu, lang)
    return _RENDERED[key]


def _render(menu: Menu, lang: str) -> bytes:
    width, height = menu.size
    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    for tile in menu.tiles:
        _draw_tile(draw, menu, tile, lang)
    out = io.BytesIO()
    # A palette image keeps the flat colours and anti-aliased text well under LINE's 1 MB.
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True
    )
    data = out.getvalue()
    if len(data) > MAX_BYTES:
        raise ValueError(f"rich-menu image for {menu.name}/{lang} is {len(data)} bytes (LINE allows 1 MB)")
    return data


def contact_sheet(menus: dict[str, Menu], thumb_width: int = 500) -> bytes:
    """Every menu in every language on one PNG (menus as columns, languages as rows)."""
    from richmenu.spec import LANGS

    names = list(menus)
    scale = thumb_width / menus[names[0]].size[0]
    row_h = max(int(m.size[1] * scale) for m in menus.values()) + 40
    sheet = Image.new("RGB", (len(names) * (thumb_width + 20) + 20, len(LANGS) * row_h + 20), WHITE)
    draw = ImageDraw.Draw(sheet)
    caption = _font("ja", 24)
    for r, lang in enumerate(LANGS):
        for c, name in enumerate(names):
            menu = menus[name]
            img = Image.open(io.BytesIO(render_menu(menu, lang))).convert("RGB")
            img = img.resize((thumb_width, int(menu.size[1] * scale)), Image.Resampling.LANCZOS)
            x, y = 20 + c * (thumb_width + 20), 10 + r * row_h
            draw.text((x, y), f"{name} / {lang} / 「{menu.chat_bar_text(lang)}」", font=caption, fill=BLACK)
            sheet.paste(img, (x, y + 32))
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()
