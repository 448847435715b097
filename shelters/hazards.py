"""The 8 災害種別 (disaster types) of the Disaster Countermeasures Basic Act, in one table.

The order is persisted: a shelter's ``hazard_bits`` sets bit i for ``KEYS[i]``. Append only;
never reorder or remove a row.
"""

from __future__ import annotations

# key, the label residents and operators read, the column name in the 自治体標準 / GSI files
TABLE: tuple[tuple[str, str, str], ...] = (
    ("flood", "洪水", "洪水"),
    ("landslide", "土砂災害", "崖崩れ、土石流及び地滑り"),
    ("storm_surge", "高潮", "高潮"),
    ("earthquake", "地震", "地震"),
    ("tsunami", "津波", "津波"),
    ("fire", "大規模な火事", "大規模な火事"),
    ("inland_flood", "内水氾濫", "内水氾濫"),
    ("volcano", "火山現象", "火山現象"),
)
KEYS: tuple[str, ...] = tuple(key for key, _, _ in TABLE)
LABELS: dict[str, str] = {key: label for key, label, _ in TABLE}
COLUMNS: dict[str, str] = {key: column for key, _, column in TABLE}
