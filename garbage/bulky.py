"""粗大ごみ requests: the ward's fee list (CSV staff edit), item search, the dates offered.

Fee list columns (README "粗大ごみ"): 品目 (required), 手数料 (required, yen: 2000, 2,000 or
2,000円), notes (optional), furigana (optional). Errors as ``line N, column C: reason``.
Payment is the 有料粗大ごみ処理券 sticker bought in shops; a cashless provider would come in
behind ``PaymentMethod`` — none can be reached from here, so none is pretended.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from excelcsv import CsvError, CsvInvalid, Sheet
from garbage.items import ItemIndex
from store.vocab import BULKY_STATUS

SAMPLE_FEES = Path(__file__).resolve().parent.parent / "data" / "garbage" / "bulky_fees.csv"
LEAD_DAYS = 3  # the earliest collection is this many days after the request (the contractor's route planning)
OFFERED_DATES = 6
SEARCH_DAYS = 60  # how far ahead free dates are looked for
DEFAULT_CAPACITY = 10  # requests per area and day unless staff set another number
COLLECTION_WEEKDAYS = frozenset(range(6))  # Monday–Saturday
MAX_ITEMS = 10  # per request: more is a house clearance, which the ward handles by phone
MAX_ADDRESS = 60
_YEN = re.compile(r"^(\d{1,3}(?:,\d{3})*|\d+)円?$")


class FeeListInvalid(CsvInvalid):
    """The fee list was rejected; ``errors`` lists every problem (line, column, reason)."""


@dataclass(frozen=True)
class Fee:
    name: str
    fee: int
    notes: str = ""
    furigana: str = ""


def parse_fee_list(data: bytes) -> list[Fee]:
    """Parse the 粗大ごみ fee list; raise FeeListInvalid listing every error."""
    try:
        sheet = Sheet(data)
    except CsvInvalid as exc:
        raise FeeListInvalid(exc.errors) from None
    names = [h.lower() for h in sheet.header]
    col = {n: i for i, n in enumerate(names) if n}
    errors: list[CsvError] = [
        CsvError(sheet.header_line, need, "missing required column") for need in ("品目", "手数料") if need not in col
    ]
    if errors:
        raise FeeListInvalid(errors)
    fees: list[Fee] = []
    seen: dict[str, int] = {}
    for line, cells, _ in sheet.rows():
        row = [c.strip() for c in cells]

        def cell(name: str, row: list[str] = row) -> str:
            return row[col[name]] if name in col else ""

        name, raw_fee = cell("品目"), unicodedata.normalize("NFKC", cell("手数料"))
        if not name:
            errors.append(CsvError(line, "品目", "empty item name"))
            continue
        if name in seen:
            errors.append(CsvError(line, "品目", f"duplicate item {name!r} (first on line {seen[name]})"))
            continue
        seen[name] = line
        m = _YEN.match(raw_fee)
        if not m:
            errors.append(CsvError(line, "手数料", f"{raw_fee!r} is not an amount in yen (e.g. 400 or 1,200円)"))
            continue
        fee = int(m.group(1).replace(",", ""))
        if fee <= 0 or fee % 100:
            errors.append(CsvError(line, "手数料", f"{fee} yen cannot be paid with 処理券 (multiples of 100 yen)"))
            continue
        fees.append(Fee(name, fee, cell("notes"), cell("furigana")))
    errors.extend(sheet.errors)
    if errors:
        raise FeeListInvalid(sorted(errors, key=lambda e: e.line))
    if not fees:
        raise FeeListInvalid([CsvError(sheet.header_line, "-", "no items")])
    return fees


class FeeIndex:
    """Search the fee list with the sorting list's pipeline."""

    def __init__(self, fees: Sequence[Fee]) -> None:
        self.fees = list(fees)
        self._index = ItemIndex([f.name for f in self.fees], [f.furigana for f in self.fees])

    def search(self, text: str, k: int = 4) -> list[tuple[Fee, float]]:
        return [(self.fees[h.index], h.score) for h in self._index.search(text, k=k)]


def sticker_breakdown(total: int) -> dict[int, int]:
    """処理券 to buy for ``total`` yen: as many 300-yen B券 as fit, the rest in 200-yen A券.

    Every multiple of 100 from 200 up can be made of 200s and 300s (100 yen alone cannot).
    """
    if total < 200 or total % 100:
        raise ValueError(f"{total} yen cannot be made of 200/300-yen stickers")
    b = total // 300
    while b >= 0 and (total - 300 * b) % 200:
        b -= 1
    return {300: b, 200: (total - 300 * b) // 200}


def candidate_days(
    today: date,
    paused: Iterable[date] = (),
    lead_days: int = LEAD_DAYS,
    horizon: int = SEARCH_DAYS,
) -> list[date]:
    """Collection days that could be offered: Monday–Saturday from today + lead, outside pauses."""
    skip = set(paused)
    first = today + timedelta(days=lead_days)
    days = (first + timedelta(days=i) for i in range(horizon))
    return [d for d in days if d.weekday() in COLLECTION_WEEKDAYS and d not in skip]


def free_days(
    candidates: Sequence[date], capacity: dict[date, int], booked: dict[date, int], limit: int = OFFERED_DATES
) -> list[date]:
    """The first ``limit`` candidates with room left."""
    return [d for d in candidates if booked.get(d, 0) < capacity.get(d, DEFAULT_CAPACITY)][:limit]


def can_cancel(day: date, today: date) -> bool:
    """Residents cancel their own request until the day before collection."""
    return day > today


class PaymentMethod(Protocol):
    """How a resident pays. Today only the sticker (処理券); a cashless provider would implement
    ``instructions`` (and a payment link) here once the ward contracts one."""

    def instructions(self, total: int, receipt: str, lang: str) -> str: ...


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("受付番号", "収集日", "地区", "住所", "品目", "点数", "手数料合計", "状態", "取消理由")


def _cell(value: object) -> str:
    # OWASP: a cell starting like a formula is shown as text in Excel (a resident types the address).
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(requests: Iterable[dict[str, object]], area_names: dict[str, str]) -> bytes:
    """The contractor's list: UTF-8 with BOM and CRLF (Excel opens it), formula cells escaped."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in requests:
        items = r["items"]  # type: ignore[index]
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r["receipt"],
                    r["day"],
                    area_names.get(str(r["area"]), r["area"]),
                    r["address"],
                    "・".join(i["name"] for i in items),  # type: ignore[union-attr]
                    len(items),  # type: ignore[arg-type]
                    r["total_fee"],
                    BULKY_STATUS.label(str(r["status"])),
                    r.get("cancel_reason") or "",
                )
            ]
        )
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")
