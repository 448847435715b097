"""The ward's areas as alerts name them (code, name, kana), from the configured `AREAS_CSV`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alerts.errors import InvalidAlert

ROOT = Path(__file__).resolve().parent.parent


def setting(key: str, default: Any) -> Any:
    try:
        from flask import current_app

        return current_app.config.get(key, default)
    except RuntimeError:  # outside an app context
        return default


def load_areas(path: str | Path | None = None) -> list[dict[str, str]]:
    """The ward's areas (code, name, kana) from the staff-edited CSV."""
    path = Path(path or setting("AREAS_CSV", ROOT / "data" / "areas.csv"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            {"code": r["code"].strip(), "name": r["name"].strip(), "kana": (r.get("kana") or "").strip()}
            for r in csv.DictReader(fh)
            if (r.get("code") or "").strip()
        ]


def resolve_areas(values: Iterable[str], areas: Sequence[Mapping[str, str]] | None = None) -> list[str]:
    """Turn codes or names (or kana) into area codes; unknown ones raise InvalidAlert."""
    areas = areas if areas is not None else load_areas()
    lookup: dict[str, str] = {}
    for a in areas:
        for key in (a["code"], a["name"], a.get("kana") or ""):
            if key:
                lookup[key] = a["code"]
    out: list[str] = []
    problems = []
    for v in values:
        code = lookup.get(v.strip())
        if code is None:
            problems.append(f"地区「{v}」は areas.csv にありません")
        elif code not in out:
            out.append(code)
    if problems:
        raise InvalidAlert(problems)
    return out


def area_names_by_code() -> dict[str, str]:
    try:
        return {a["code"]: a["name"] for a in load_areas()}
    except OSError:
        return {}
