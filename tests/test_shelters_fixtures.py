"""Small shelter files in the three published formats, built in code for the shelter tests (no tests here)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MATSUYAMA = ROOT.parent / "shared" / "data" / "shelters" / "382019_evacuation_space.csv"
SAMPLE = ROOT / "shelters" / "data" / "sample_shelters.csv"

STANDARD_HEADER = next(csv.reader(io.StringIO(MATSUYAMA.read_text(encoding="utf-8-sig"))))
GSI_HEADER = [
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", "洪水", "崖崩れ、土石流及び地滑り", "高潮",
    "地震", "津波", "大規模な火事", "内水氾濫", "火山現象", "指定避難所との住所同一", "緯度", "経度", "備考",
]  # fmt: skip
HAZARD_NAMES = ["洪水", "崖崩れ、土石流及び地滑り", "高潮", "地震", "津波", "大規模な火事", "内水氾濫", "火山現象"]


def standard_row(
    sid: str, name: str, lat: Any, lon: Any, flags: str = "", capacity: str = "", **extra: str
) -> dict[str, str]:
    row = {h: "" for h in STANDARD_HEADER if h}
    row.update({"全国地方公共団体コード": "131999", "ID": sid, "名称": name, "緯度": str(lat), "経度": str(lon)})
    row["所在地_連結表記"] = f"東京都みどり区{name}1-1"
    flag = extra.pop("flag", "1")
    for hazard in flags.split(","):
        if hazard:
            row["災害種別_" + hazard] = flag
    row["想定収容人数"] = capacity
    row.update(extra)
    return row


def standard_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    header = header or STANDARD_HEADER
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") if h else "" for h in header])
    return out.getvalue()


def gsi_row(sid: str, name: str, lat: Any, lon: Any, flags: str = "") -> dict[str, str]:
    row = {h: "" for h in GSI_HEADER}
    row.update(
        {"共通ID": sid, "施設・場所名": name, "緯度": str(lat), "経度": str(lon), "住所": f"東京都みどり区{name}2-2"}
    )
    row["都道府県名及び市町村名"] = "東京都みどり区"
    for hazard in flags.split(","):
        if hazard:
            row[hazard] = "1"
    return row


def gsi_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GSI_HEADER)
    for i, row in enumerate(rows, start=1):
        writer.writerow([str(i) if h == "NO" else row.get(h, "") for h in GSI_HEADER])
    return out.getvalue()


def gsi_geojson(rows: list[dict[str, str]]) -> str:
    """One feature per line, as GSI publishes it."""
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k not in ("緯度", "経度")}
        geometry = {"type": "Point", "coordinates": [float(row["経度"]), float(row["緯度"])]}
        features.append(json.dumps({"type": "Feature", "geometry": geometry, "properties": props}, ensure_ascii=False))
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(features) + "\n]}\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
