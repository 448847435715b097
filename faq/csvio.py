"""The FAQ CSV that staff edit in Excel: parse with every error reported, and dump.

Contract (DESIGN.md "FAQ CSV"): UTF-8 with or without BOM or CP932, RFC 4180, required
columns ``id``, ``question``, ``answer``; optional ``category``, ``alternates``, ``url``,
``contact`` and ``question_<lang>`` / ``answer_<lang>``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

from faq.model import LANGS, FaqEntry

REQUIRED = ("id", "question", "answer")
OPTIONAL = ("category", "alternates", "url", "contact")
TRANSLATION_COLUMNS = tuple(f"{kind}_{lang}" for lang in LANGS for kind in ("question", "answer"))
MAX_ANSWER_UTF16 = 5000  # LINE text message limit, in UTF-16 code units
_TRANSLATION_RE = re.compile(r"^(question|answer)_(.+)$")
_ALTERNATE_SPLIT_RE = re.compile(r"[|｜\n]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class FaqCsvError(Exception):
    """One problem in a FAQ CSV, located by physical line and column name."""

    def __init__(self, line: int, column: str, reason: str) -> None:
        super().__init__(line, column, reason)
        self.line = line
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class FaqCsvInvalid(Exception):
    """The file was rejected; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FaqCsvError]) -> None:
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as LINE counts characters."""
    return len(text.encode("utf-16-le")) // 2


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes) -> str:
    """Decode UTF-8 (BOM optional) or CP932; raise FaqCsvInvalid on undecodable bytes."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = _line_of_offset(body, exc.start)
            raise FaqCsvInvalid(
                [FaqCsvError(line, "-", f"invalid UTF-8 byte 0x{body[exc.start]:02x} at byte {exc.start + 3}")]
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_exc:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError as cp_exc:
            # Report the decoder that got further: that is the encoding the file was meant to be in.
            exc, name = (utf8_exc, "UTF-8") if utf8_exc.start >= cp_exc.start else (cp_exc, "CP932")
            line = _line_of_offset(data, exc.start)
            raise FaqCsvInvalid(
                [
                    FaqCsvError(
                        line,
                        "-",
                        f"undecodable byte 0x{data[exc.start]:02x} at byte {exc.start} "
                        f"(neither UTF-8 nor CP932; read as {name} up to there)",
                    )
                ]
            ) from None


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    """Yield (first physical line, fields) for each record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FaqCsvError(start, "-", f"CSV syntax error: {exc}") from None
        end = reader.line_num
        # Excel writes LF inside quoted cells, other tools CRLF or CR: keep only LF.
        yield start, [c.replace("\r\n", "\n").replace("\r", "\n") if "\r" in c else c for c in row]


def _column_at(header: list[str], index: int) -> str:
    return header[index] if index < len(header) and header[index] else f"#{index + 1}"


def parse_faq_csv(data: bytes) -> list[FaqEntry]:
    """Parse and validate a FAQ CSV; raise :class:`FaqCsvInvalid` listing every error."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_faq_csv() expects bytes")
    data = bytes(data)
    text = _decode(data)
    if not text.strip():
        raise FaqCsvInvalid([FaqCsvError(1, "-", "empty file")])

    errors: list[FaqCsvError] = []
    entries: list[FaqEntry] = []
    records = _records(text)
    header_raw: list[str] | None = None
    try:
        for _start, row in records:
            if any(cell.strip() for cell in row):
                header_raw = row
                header_line = _start
                break
    except FaqCsvError as exc:
        raise FaqCsvInvalid([exc]) from None
    if header_raw is None:
        raise FaqCsvInvalid([FaqCsvError(1, "-", "empty file")])

    header = [h.strip().lstrip("\ufeff").lower() for h in header_raw]
    seen_cols: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            continue
        if name in seen_cols:
            errors.append(FaqCsvError(header_line, name, f"duplicate column (also column {seen_cols[name] + 1})"))
        else:
            seen_cols[name] = i
        m = _TRANSLATION_RE.match(name)
        if m and m.group(2) not in LANGS:
            errors.append(
                FaqCsvError(
                    header_line,
                    name,
                    f"unknown translation language {m.group(2)!r} (known: {', '.join(LANGS)})",
                )
            )
    for name in REQUIRED:
        if name not in seen_cols:
            errors.append(FaqCsvError(header_line, name, "missing required column"))
    if any(name not in seen_cols for name in REQUIRED):
        raise FaqCsvInvalid(errors)

    col = seen_cols
    first_line_of_id: dict[str, int] = {}
    n_fields = len(header)
    try:
        for line, row in records:
            if not any(cell.strip() for cell in row):
                continue  # blank lines between records are harmless
            if len(row) > n_fields and any(c.strip() for c in row[n_fields:]):
                errors.append(FaqCsvError(line, "-", f"expected {n_fields} fields, found {len(row)}"))
                continue
            # Rows cut short (hand-edited files, some exporters) read as empty trailing cells;
            # a missing id/question/answer is then reported as empty.
            row = row[:n_fields] + [""] * (n_fields - len(row))

            def cell(name: str, row: list[str] = row) -> str:
                i = col.get(name)
                return row[i].strip() if i is not None else ""

            row_errors: list[FaqCsvError] = []
            fid, question, answer = cell("id"), cell("question"), cell("answer")
            for name, value in (("id", fid), ("question", question), ("answer", answer)):
                if not value:
                    row_errors.append(FaqCsvError(line, name, f"empty {name}"))
            if fid:
                if fid in first_line_of_id:
                    row_errors.append(
                        FaqCsvError(line, "id", f"duplicate id {fid!r} (first on line {first_line_of_id[fid]})")
                    )
                else:
                    first_line_of_id[fid] = line
            if utf16_len(answer) > MAX_ANSWER_UTF16:
                row_errors.append(
                    FaqCsvError(
                        line,
                        "answer",
                        f"answer too long: {utf16_len(answer)} > {MAX_ANSWER_UTF16} UTF-16 code units",
                    )
                )
            translations: dict[str, dict[str, str]] = {}
            for lang in LANGS:
                q_t, a_t = cell(f"question_{lang}"), cell(f"answer_{lang}")
                if utf16_len(a_t) > MAX_ANSWER_UTF16:
                    row_errors.append(
                        FaqCsvError(
                            line,
                            f"answer_{lang}",
                            f"answer too long: {utf16_len(a_t)} > {MAX_ANSWER_UTF16} UTF-16 code units",
                        )
                    )
                fields = {k: v for k, v in (("question", q_t), ("answer", a_t)) if v}
                if fields:
                    translations[lang] = fields
            if row_errors:
                errors.extend(row_errors)
                continue
            alternates = tuple(a.strip() for a in _ALTERNATE_SPLIT_RE.split(cell("alternates")) if a.strip())
            entries.append(
                FaqEntry(
                    id=fid,
                    question=question,
                    answer=row[col["answer"]].strip("\r\n").strip(),
                    category=cell("category"),
                    alternates=alternates,
                    url=cell("url"),
                    contact=cell("contact"),
                    translations=translations,
                )
            )
    except FaqCsvError as exc:
        errors.append(exc)
    if errors:
        raise FaqCsvInvalid(errors)
    if not entries:
        raise FaqCsvInvalid([FaqCsvError(header_line, "-", "no FAQ rows")])
    return entries


def load_faq_csv(path: str | Path) -> list[FaqEntry]:
    """Read and parse the FAQ CSV at ``path``."""
    return parse_faq_csv(Path(path).read_bytes())


def _escape_formula(value: str) -> str:
    # OWASP ASVS 1.2.10: a cell starting like a formula is shown as text in Excel.
    return "'" + value if value.startswith(_FORMULA_START) else value


def dump_faq_csv(entries: Iterable[FaqEntry]) -> bytes:
    """Serialize entries as UTF-8-with-BOM, CRLF CSV that Excel opens, formula cells escaped."""
    entries = list(entries)
    langs = [lang for lang in LANGS if any(lang in e.translations for e in entries)]
    header = ["id", "question", "answer", *OPTIONAL]
    for lang in langs:
        header += [f"question_{lang}", f"answer_{lang}"]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for e in entries:
        row = [e.id, e.question, e.answer, e.category, "\n".join(e.alternates), e.url, e.contact]
        for lang in langs:
            tr = e.translations.get(lang, {})
            row += [tr.get("question", ""), tr.get("answer", "")]
        writer.writerow([_escape_formula(v) for v in row])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


# Other Excel-edited lists (the 5374 garbage files, the 粗大ごみ fee list) read CSV the same way.
decode_csv_bytes = _decode
csv_records = _records
