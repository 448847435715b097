"""Read the shelter files cities publish (no Flask, no database).

Three formats, detected from the content:

- 自治体標準オープンデータセット「指定緊急避難場所一覧」/「指定避難所一覧」 (CSV, id column `ID`);
- 国土地理院「指定緊急避難場所・指定避難所データ」 CSV (id column `共通ID`);
- the same GSI data as GeoJSON (Point [lon, lat], the CSV's column names as properties).

Real files have quirks: a UTF-8 BOM or CP932 bytes, a blank header cell, capacities like
`"50,700 "`, hazard flags as `1`, `○` or empty. A file with any error is rejected whole:
`read_shelters` raises `ShelterFileInvalid` listing every error as `line N, column C: reason`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from excelcsv import CsvError, CsvInvalid, Sheet, decode_text
from shelters import hazards

# The 8 災害種別 of the Disaster Countermeasures Basic Act, in a fixed order (bit i = HAZARDS[i]).
HAZARDS = hazards.KEYS
HAZARD_COLUMNS = hazards.COLUMNS
FORMAT_STANDARD = "自治体標準"
FORMAT_GSI_CSV = "GSI CSV"
FORMAT_GSI_GEOJSON = "GSI GeoJSON"
# Formats whose shelters share one id scheme (ID vs GSI's 共通ID): a re-import in one of them is
# the whole list for all of them, so switching GSI CSV → GeoJSON still withdraws dropped shelters.
SAME_SOURCE_FORMATS = {
    FORMAT_STANDARD: (FORMAT_STANDARD,),
    FORMAT_GSI_CSV: (FORMAT_GSI_CSV, FORMAT_GSI_GEOJSON),
    FORMAT_GSI_GEOJSON: (FORMAT_GSI_CSV, FORMAT_GSI_GEOJSON),
}

# Japan, generously (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
LAT_RANGE = (20.0, 46.0)
LON_RANGE = (122.0, 154.0)

_TRUE_FLAGS = {"1", "○", "◯", "〇", "●", "◎", "有", "あり", "true", "yes", "y", "t"}
_FALSE_FLAGS = {"", "0", "×", "✕", "-", "－", "―", "無", "なし", "false", "no", "n", "f"}
_AREA_SPLIT = re.compile(r"[、,，/／・;；\s]+")


# `line` is the line of the file (header = 1) as a text editor shows it, in CSV as in GeoJSON:
# shelter files are published open data, opened as text as often as in Excel.
ShelterError = CsvError


class ShelterFileInvalid(CsvInvalid):
    """The file was rejected; `errors` lists every problem found."""

    def __str__(self) -> str:
        first = str(self.errors[0]) if self.errors else "invalid file"
        return first + (f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else "")


@dataclass
class ShelterRecord:
    """One shelter as read from a source file (ids are the source's own)."""

    source_id: str
    name: str
    lat: float
    lon: float
    address: str = ""
    kana: str = ""
    hazards: tuple[str, ...] = ()
    capacity: int | None = None
    areas: tuple[str, ...] = ()
    is_shelter: bool = False  # also a 指定避難所 (a place to stay), not only a 避難場所
    url: str = ""
    municipality: str = ""
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hazards"] = list(self.hazards)
        d["areas"] = list(self.areas)
        return d


@dataclass(frozen=True)
class ParsedFile:
    format: str
    records: list[ShelterRecord]


# --- cell parsing ------------------------------------------------------------------------


def _clean(value: Any) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def _text(value: Any) -> str:
    """A text cell as published (only surrounding spaces removed; full-width forms kept)."""
    return "" if value is None else str(value).strip()


def parse_flag(value: Any) -> bool:
    """`1`/`○`/… → True, empty/`0`/`×` → False; anything else raises ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    raw = str(value).strip() if value is not None else ""
    text = _clean(raw).lower()
    if raw in _TRUE_FLAGS or text in _TRUE_FLAGS:
        return True
    if raw in _FALSE_FLAGS or text in _FALSE_FLAGS:
        return False
    raise ValueError(f"hazard flag must be 1, ○ or empty, got {raw!r}")


def parse_capacity(value: Any) -> int | None:
    """`"50,700 "`, `１２００人`, `900` → int; empty → None; anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"capacity must be a number of people, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    else:
        text = _clean(value).replace(",", "").replace(" ", "")
        text = text.removesuffix("人").removeprefix("約")
        if not text:
            return None
        if not text.isdigit():
            raise ValueError(f"capacity must be a number of people, got {str(value).strip()!r}")
        n = int(text)
    if n < 0:
        raise ValueError(f"capacity must not be negative, got {n}")
    return n


def parse_coordinate(value: Any, kind: str) -> float:
    """A latitude (`kind='lat'`) or longitude in decimal degrees, within Japan."""
    text = _clean(value) if not isinstance(value, (int, float)) or isinstance(value, bool) else str(value)
    if text == "":
        raise ValueError("is empty (decimal degrees expected)")
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number (decimal degrees expected)") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a number")
    lo, hi = LAT_RANGE if kind == "lat" else LON_RANGE
    if not lo <= x <= hi:
        raise ValueError(f"{x} is outside Japan ({lo}–{hi})")
    return x


def split_areas(value: Any) -> tuple[str, ...]:
    return tuple(a for a in _AREA_SPLIT.split(_text(value)) if a)


# --- column layouts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    format: str
    id_col: str
    name_col: str
    address_cols: tuple[str, ...]
    hazard_prefix: str
    kana_col: str | None = None
    capacity_col: str | None = None
    areas_col: str | None = None
    url_col: str | None = None
    municipality_col: str | None = None
    shelter_flag_col: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        return (self.id_col, self.name_col, "緯度", "経度")


STANDARD = Layout(
    format=FORMAT_STANDARD,
    id_col="ID",
    name_col="名称",
    address_cols=("所在地_連結表記", "住所"),
    hazard_prefix="災害種別_",
    kana_col="名称_カナ",
    capacity_col="想定収容人数",
    areas_col="対象となる町会・自治会",
    url_col="URL",
    municipality_col="地方公共団体名",
    shelter_flag_col="指定避難所との重複",
)
GSI = Layout(
    format=FORMAT_GSI_CSV,
    id_col="共通ID",
    name_col="施設・場所名",
    address_cols=("住所",),
    hazard_prefix="",
    municipality_col="都道府県名及び市町村名",
    shelter_flag_col="指定避難所との住所同一",
)


def _standard_address(row: dict[str, str]) -> str:
    parts = ("所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)")
    return "".join(_text(row.get(p)) for p in parts)


def _record(layout: Layout, row: dict[str, Any], line: int, errors: list[ShelterError]) -> ShelterRecord | None:
    """Turn one row (column → value) into a record, appending any problems to `errors`."""
    n_before = len(errors)

    def err(column: str, reason: str) -> None:
        errors.append(ShelterError(line, column, reason))

    source_id = _text(row.get(layout.id_col))
    if not source_id:
        err(layout.id_col, "is empty (every shelter needs its ID)")
    name = _text(row.get(layout.name_col))
    if not name:
        err(layout.name_col, "is empty")
    coords: dict[str, float] = {}
    coord_errors: list[ShelterError] = []
    for col, kind in (("緯度", "lat"), ("経度", "lon")):
        try:
            coords[kind] = parse_coordinate(row.get(col), kind)
        except ValueError as exc:
            coord_errors.append(ShelterError(line, col, str(exc)))
    if coord_errors:
        # Point out the common mistake instead of two range errors.
        try:
            lat, lon = float(_clean(row.get("緯度"))), float(_clean(row.get("経度")))
        except ValueError:
            lat = lon = 0.0
        if LAT_RANGE[0] <= lon <= LAT_RANGE[1] and LON_RANGE[0] <= lat <= LON_RANGE[1]:
            coord_errors = [ShelterError(line, "緯度", f"緯度 {lat} and 経度 {lon} look swapped")]
        errors.extend(coord_errors)
    hazards = []
    for key in HAZARDS:
        col = layout.hazard_prefix + HAZARD_COLUMNS[key]
        try:
            if parse_flag(row.get(col)):
                hazards.append(key)
        except ValueError as exc:
            err(col, str(exc))
    capacity = None
    if layout.capacity_col:
        try:
            capacity = parse_capacity(row.get(layout.capacity_col))
        except ValueError as exc:
            err(layout.capacity_col, str(exc))
    is_shelter = False
    if layout.shelter_flag_col:
        try:
            is_shelter = parse_flag(row.get(layout.shelter_flag_col))
        except ValueError:
            is_shelter = False  # informational column; some cities write free text here
    if row.get("__kind__") == "指定避難所":
        is_shelter = True
    address = ""
    for col in layout.address_cols:
        address = _text(row.get(col))
        if address:
            break
    if not address and layout is STANDARD:
        address = _standard_address(row)
    if len(errors) > n_before:
        return None
    return ShelterRecord(
        source_id=source_id,
        name=name,
        lat=coords["lat"],
        lon=coords["lon"],
        address=address,
        kana=_text(row.get(layout.kana_col)) if layout.kana_col else "",
        hazards=tuple(hazards),
        capacity=capacity,
        areas=split_areas(row.get(layout.areas_col)) if layout.areas_col else (),
        is_shelter=is_shelter,
        url=_text(row.get(layout.url_col)) if layout.url_col else "",
        municipality=_text(row.get(layout.municipality_col)) if layout.municipality_col else "",
        line=line,
    )


def _check_duplicates(layout: Layout, records: Iterable[ShelterRecord], errors: list[ShelterError]) -> None:
    seen: dict[str, int] = {}
    for rec in records:
        if rec.source_id in seen:
            errors.append(
                ShelterError(
                    rec.line, layout.id_col, f"duplicate ID {rec.source_id} (first on line {seen[rec.source_id]})"
                )
            )
        else:
            seen[rec.source_id] = rec.line


# --- CSV ---------------------------------------------------------------------------------


def _parse_csv(text: str) -> ParsedFile:
    sheet = Sheet(text)
    top = sheet.header_file_line
    header = [_clean(h) for h in sheet.header]
    names = set(header)
    if "共通ID" in names:
        layout = GSI
    elif "ID" in names:
        layout = STANDARD
    else:
        raise ShelterFileInvalid(
            [ShelterError(top, "ID", "required column missing (自治体標準 files need ID, GSI files 共通ID)")]
        )
    errors = [ShelterError(top, col, "required column missing") for col in layout.required if col not in names]
    seen_cols: set[str] = set()
    for col in header:
        if col and col in seen_cols:
            errors.append(ShelterError(top, col, "column appears twice in the header"))
        seen_cols.add(col)
    if errors:
        raise ShelterFileInvalid(errors)
    kind = "指定避難所" if "指定緊急避難場所との重複" in names else "指定緊急避難場所"
    records: list[ShelterRecord] = []
    for _, cells, line in sheet.rows():
        # A blank header column (as in Matsuyama's file) carries nothing.
        row: dict[str, Any] = {col: cell for col, cell in zip(header, cells, strict=True) if col}
        row["__kind__"] = kind
        rec = _record(layout, row, line, errors)
        if rec is not None:
            records.append(rec)
    errors.extend(sheet.errors)
    _check_duplicates(layout, records, errors)
    if errors:
        raise ShelterFileInvalid(errors)
    if not records:
        raise ShelterFileInvalid([ShelterError(top + 1, "", "the file has no shelters")])
    return ParsedFile(layout.format, records)


# --- GeoJSON -----------------------------------------------------------------------------

_FEATURE_RE = re.compile(r'"type"\s*:\s*"Feature"')


def _feature_lines(text: str) -> list[int]:
    """Approximate line of each feature (for error messages; json keeps no positions)."""
    return [text.count("\n", 0, m.start()) + 1 for m in _FEATURE_RE.finditer(text)]


def _parse_geojson(text: str) -> ParsedFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ShelterFileInvalid([ShelterError(exc.lineno, str(exc.colno), f"broken GeoJSON: {exc.msg}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ShelterFileInvalid([ShelterError(1, "type", "GeoJSON must be a FeatureCollection with a features list")])
    lines = _feature_lines(text)
    errors: list[ShelterError] = []
    records: list[ShelterRecord] = []
    for i, feature in enumerate(doc["features"]):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            errors.append(ShelterError(line, "properties", f"feature {i + 1} has no properties object"))
            continue
        props = dict(feature["properties"])
        geom = feature.get("geometry")
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if not isinstance(geom, dict) or geom.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            errors.append(ShelterError(line, "geometry", f"feature {i + 1} needs a Point geometry [lon, lat]"))
            continue
        props["経度"], props["緯度"] = coords[0], coords[1]
        props = {_clean(k): v for k, v in props.items()}
        layout = STANDARD if "共通ID" not in props and "ID" in props else GSI
        rec = _record(layout, props, line, errors)
        if rec is not None:
            records.append(rec)
    _check_duplicates(GSI, records, errors)
    if errors:
        raise ShelterFileInvalid(errors)
    if not records:
        raise ShelterFileInvalid([ShelterError(1, "features", "the file has no shelters")])
    return ParsedFile(FORMAT_GSI_GEOJSON, records)


# --- entry points ------------------------------------------------------------------------


def parse_bytes(data: bytes) -> ParsedFile:
    """Detect the format of `data` and read every shelter (ShelterFileInvalid on any error)."""
    try:
        text = decode_text(data)
        if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
            return _parse_geojson(text)
        return _parse_csv(text)
    except ShelterFileInvalid:
        raise
    except CsvInvalid as exc:  # undecodable bytes, an empty file, a broken header
        raise ShelterFileInvalid(exc.errors) from None


def read_shelters(path: Path) -> ParsedFile:
    """Read a shelter file from disk (OSError if it cannot be read)."""
    return parse_bytes(Path(path).read_bytes())
