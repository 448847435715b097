"""Hachioji's published 5374 data (not in this repository: see bench/bench_garbage.py), when a
local copy is given in HACHIOJI_5374_DIR: all 135 areas and 745 items import, after the two
corrections the bench documents; as published, the importer names exactly those mistakes."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from bench.bench_garbage import CORRECTIONS
from garbage.calendar import calendar
from garbage.format5374 import GarbageDataInvalid, parse_directory

DATA = os.environ.get("HACHIOJI_5374_DIR")
pytestmark = pytest.mark.skipif(not DATA, reason="HACHIOJI_5374_DIR not set (Hachioji's data is not in the repository)")


def test_hachioji_imports_all_areas_after_the_documented_corrections(tmp_path):
    with pytest.raises(GarbageDataInvalid) as exc:
        parse_directory(Path(DATA))
    assert {e.reason for e in exc.value.errors} == {"'隔金20150198' is not a real date", "empty category"}
    for f in Path(DATA).glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    for file, wrong, right, _why in CORRECTIONS:
        text = (tmp_path / file).read_text(encoding="utf-8-sig")
        (tmp_path / file).write_text(text.replace(wrong, right), encoding="utf-8")
    gset = parse_directory(tmp_path)
    assert len(gset.areas) == 135 and len(gset.items) == 745
    rows = calendar(gset, gset.areas, date(2027, 1, 4), date(2027, 1, 17))
    assert {r["area"] for r in rows} == {a.name for a in gset.areas}  # every area collects in two weeks
    # 隔週 cells: every other week from the start date, e.g. 暁町 びん 隔水20150114.
    akatsuki = [r for r in rows if r["area"].startswith("暁町") and "びん" in r["categories"]]
    assert [r["date"] for r in akatsuki] == ["2027-01-13"]
