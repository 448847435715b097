"""ごみ: item lookup latency with 3,000 items, a year's calendar of 200 areas, and answer quality
on a sorting list we did not write (Hachioji's 5374 data).

Times are CPU time of this process (time.process_time): the bench machine is shared, and wall
time there measures the neighbours. Usage:
  .venv/bin/python bench/bench_garbage.py                      # speed only
  HACHIOJI_5374_DIR=/path/to/5374/data .venv/bin/python bench/bench_garbage.py

Hachioji's data (github.com/Code4Hachioji/5374, `data/`) is not in this repository: its licence
is not stated for the data, so the bench reads it from the directory given. The published files
have two mistakes our importer rejects (as it should: line/column errors, nothing imported); the
bench shows those errors, then imports a copy with the two corrections listed in CORRECTIONS.
Queries: eval/garbage_hachioji_queries.csv, written (and labelled by reading target.csv by hand)
before the search was ever run on this data; `expected` lists acceptable item names
(`category:X` = any item of category X), empty = the list has no such item.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from garbage.calendar import calendar  # noqa: E402
from garbage.format5374 import GarbageDataInvalid, parse_directory  # noqa: E402
from garbage.items import ANSWER_SCORE, ItemIndex  # noqa: E402
from garbage.model import Area, GarbageSet, Item  # noqa: E402
from garbage.service import searchable_entries  # noqa: E402

SAMPLE = ROOT / "data" / "garbage" / "midori"
QUERIES = ROOT / "eval" / "garbage_hachioji_queries.csv"
# (file, wrong text, corrected text, why)
CORRECTIONS = (
    (
        "area_days.csv",
        "隔金20150198",
        "隔金20150109",
        "2015-01-98 is no date; the same rows' 雑誌・雑紙 and 段ボール are 隔金20150109",
    ),
    (
        "target.csv",
        ",櫛(木製・竹製・プラスチック製) 可燃ごみ,",
        "可燃ごみ,櫛(木製・竹製・プラスチック製),",
        "the category was typed into the name column",
    ),
)
SUGGEST_SCORE = 0.45  # bot.handlers.garbage.ITEM_SUGGEST
ASKING = ("{}", "{}は何ごみ？", "{}の捨て方", "{}を捨てたい", "{} 捨て方", "{}ってどうやって捨てるの")
MATERIALS = ("プラスチック製", "金属製", "木製", "ガラス製", "陶器製", "布製", "紙製", "ゴム製", "革製", "竹製")
NOUNS = (
    "いす たんす 棚 箱 かご 皿 コップ 鍋 おもちゃ ハンガー 傘 靴 かばん 時計 ケース 容器 袋 ボトル バケツ ほうき "
    "ちりとり 植木鉢 花瓶 置物 写真立て 額縁 鏡 トレイ まな板 水筒 弁当箱 食器 スプーン フォーク 包丁 はさみ "
    "定規 筆箱 ペン立て 本立て ラック ワゴン 台 マット シート カバー ネット ロープ ひも ブラシ"
).split()
PREFIXES = ("", "子ども用", "大型", "小型", "折りたたみ", "電動", "手動", "使い捨て", "業務用", "ペット用")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def synthetic_items(n: int, base: list[Item]) -> list[Item]:
    """``base`` plus generated names (prefix + noun + material) up to ``n`` items."""
    items = list(base)
    rng = random.Random(5374)
    seen = {i.name for i in items}
    labels = sorted({i.label for i in base}) or ["燃やすごみ"]
    while len(items) < n:
        name = f"{rng.choice(PREFIXES)}{rng.choice(NOUNS)}（{rng.choice(MATERIALS)}）"
        if name not in seen:
            seen.add(name)
            items.append(Item(rng.choice(labels), name))
    return items


def bench_lookup(base: list[Item]) -> None:
    items = synthetic_items(3000, base)
    t0 = time.process_time()
    index = ItemIndex([i.name for i in items], [i.furigana for i in items])
    build = time.process_time() - t0
    rng = random.Random(1)
    queries = [rng.choice(ASKING).format(rng.choice(items).name.split("（")[0]) for _ in range(600)]
    for q in queries[:50]:  # warm Sudachi and the analysis cache
        index.search(q)
    rng.shuffle(queries)
    timings = []
    for q in queries[50:]:
        t = time.process_time()
        index.search(q)
        timings.append((time.process_time() - t) * 1000)
    print(
        f"item lookup, {len(items)} items: build {build * 1000:.0f} ms; search over {len(timings)} queries "
        f"p50 {pct(timings, 50):.2f} ms, p99 {pct(timings, 99):.2f} ms, max {max(timings):.2f} ms"
    )


def bench_calendar(gset: GarbageSet, n_areas: int = 200) -> None:
    areas = [Area(f"{a.name}-{i}", a.centre, a.cells, a.rules) for i in range(n_areas) for a in gset.areas][:n_areas]
    big = GarbageSet(gset.categories, areas, gset.items, gset.pauses, gset.remarks)
    runs = []
    for _ in range(5):
        t = time.process_time()
        rows = calendar(big, big.areas, date(2027, 1, 1), date(2027, 12, 31))
        runs.append((time.process_time() - t) * 1000)
    print(
        f"calendar, {len(areas)} areas × 1 year ({len(rows)} area-days with a collection): "
        f"median {statistics.median(runs):.0f} ms, best {min(runs):.0f} ms"
    )


def _norm(name: str) -> str:
    return unicodedata.normalize("NFKC", name).replace(" ", "")


def bench_quality(directory: Path) -> GarbageSet:
    try:
        parse_directory(directory)
        print("Hachioji data imported as published (no corrections needed)")
    except GarbageDataInvalid as exc:
        print(f"Hachioji data as published: rejected with {len(exc.errors)} error(s):")
        for e in exc.errors:
            print(f"  {e}")
    tmp = Path(tempfile.mkdtemp())
    try:
        for f in directory.glob("*.csv"):
            shutil.copy(f, tmp / f.name)
        for file, wrong, right, why in CORRECTIONS:
            text = (tmp / file).read_text(encoding="utf-8-sig")
            print(f"  correction in {file}: {wrong!r} → {right!r} ×{text.count(wrong)} ({why})")
            (tmp / file).write_text(text.replace(wrong, right), encoding="utf-8")
        gset = parse_directory(tmp)
    finally:
        shutil.rmtree(tmp)
    print(
        f"imported: {len(gset.areas)} areas, {len(gset.categories)} categories, {len(gset.items)} items, "
        f"{len(gset.pauses)} centre pauses, {len(gset.warnings)} warnings"
    )
    t = time.process_time()
    rows = calendar(gset, gset.areas, date(2027, 1, 1), date(2027, 12, 31))
    print(
        f"  calendar of all {len(gset.areas)} areas for 2027: {len(rows)} rows in {(time.process_time() - t) * 1000:.0f} ms"
    )

    entries = searchable_entries(gset)
    index = ItemIndex([i.name for i in entries], [i.furigana for i in entries])
    by_name = {_norm(i.name): i for i in gset.items}
    with QUERIES.open(encoding="utf-8") as fh:
        queries = list(csv.DictReader(fh))
    n_item = hit1 = hit3 = answered_right = answered_wrong = cat_right = 0
    n_none = none_right = suggested = 0
    misses = []
    for row in queries:
        hits = index.search(row["query"], k=3)
        names = [entries[h.index].name for h in hits]
        top = hits[0].score if hits else 0.0
        expected = [e for e in row["expected"].split("|") if e]
        if not expected:
            n_none += 1
            ok = top < ANSWER_SCORE
            none_right += ok
            if not ok:
                misses.append(f"{row['query']} → answered {names[0]} ({top:.2f}), expected no item")
            continue
        n_item += 1

        def good(name: str, expected: list[str] = expected) -> bool:
            item = entries[[i.name for i in entries].index(name)]
            return any(_norm(e) == _norm(name) or e == f"category:{item.label}" for e in expected)

        want_labels = {by_name[_norm(e)].label for e in expected if _norm(e) in by_name} | {
            e.split(":", 1)[1] for e in expected if e.startswith("category:")
        }
        if names and good(names[0]):
            hit1 += 1
        if any(good(n) for n in names):
            hit3 += 1
        if names and entries[hits[0].index].label in want_labels:
            cat_right += 1
        if top >= ANSWER_SCORE:
            if good(names[0]):
                answered_right += 1
            else:
                answered_wrong += 1
        if not names or not good(names[0]):
            misses.append(f"{row['query']} → {names[:2]} ({top:.2f}), expected {expected[:2]}")
        elif top < ANSWER_SCORE:
            suggested += top >= SUGGEST_SCORE
    print(f"queries: {len(queries)} ({n_item} about a listed item, {n_none} about items the list does not have)")
    print(f"  item hit@1 {hit1}/{n_item} = {hit1 / n_item:.3f}; hit@3 {hit3}/{n_item} = {hit3 / n_item:.3f}")
    print(f"  right category at rank 1: {cat_right}/{n_item} = {cat_right / n_item:.3f}")
    print(
        f"  answered directly (score ≥ {ANSWER_SCORE}): {answered_right + answered_wrong}/{n_item}, "
        f"of which right {answered_right}, wrong {answered_wrong}"
    )
    print(f"  right item at rank 1 but below {ANSWER_SCORE} (offered as a choice from {SUGGEST_SCORE}): {suggested}")
    print(f"  not in the list → no direct answer: {none_right}/{n_none}")
    for m in misses:
        print(f"  miss: {m}")
    return gset


def main() -> None:
    sample = parse_directory(SAMPLE)
    base = sample.items
    hachioji = os.environ.get("HACHIOJI_5374_DIR")
    if hachioji:
        gset = bench_quality(Path(hachioji))
        base = gset.items
    else:
        print("HACHIOJI_5374_DIR not set: answer quality skipped (see the docstring)")
    bench_lookup(base)
    bench_calendar(sample)


if __name__ == "__main__":
    main()
