"""The CSV files staff edit in Excel: one decoder, one record reader, one error shape.

Every list the ward keeps in a spreadsheet (FAQ, 5374 garbage files, 粗大ごみ fees, report kinds,
area points, rich menu, opinion topics, urgent topics, shelters, eval queries, synonyms) is read
here, so all of them accept the same files and locate a problem the same way:

- UTF-8 with or without BOM (Excel's 「CSV UTF-8」) or CP932 (Excel's 「CSV」 on Japanese
  Windows), detected; UTF-16 (「Unicode テキスト」) is refused with how to re-save.
- RFC 4180 quoting; a cell may span lines; CR/CRLF inside a cell become LF.
- Every problem is a :class:`CsvError`: ``line N, column C: reason`` (and the reason in Japanese
  for the console). ``line`` is the row number Excel shows: the header is row 1 and line breaks
  inside a cell do not count. :attr:`Record.file_line` is the line a text editor shows, for the
  files whose messages count those.

No Flask, no database: the lowest layer, usable from ``faq`` up.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterator, Sequence
from typing import NamedTuple

SAVE_AS_UTF8 = (
    "Excelの「名前を付けて保存」で、ファイルの種類「CSV UTF-8 (コンマ区切り) (*.csv)」を選んで保存し直してください。"
)
# A UTF-8 file with one broken byte can decode as CP932 from start to end (short Japanese runs in
# UTF-8 often are valid CP932), which would be accepted as mojibake. Japanese text that already
# read as UTF-8 before the bad byte says which encoding the file is in. Two characters, not one:
# a CP932 file can begin with bytes that happen to form one valid UTF-8 kana or kanji (a JIS
# level-2 kanji before a hiragana: E3 81 82 is 「あ」), practically never two.
_UTF8_EVIDENCE = 2


class CsvError(ValueError):
    """One problem in a CSV file: the row as Excel numbers it (header = 1), the column, why.

    ``reason`` is English (the CLI's ``line N, column C: reason``); ``ja`` says the same in
    Japanese for the console (the reason itself when a reader words its errors in Japanese).
    ``whole_file``: about the file as a whole (the console shows no row for it).
    """

    def __init__(self, line: int, column: str, reason: str, ja: str | None = None, whole_file: bool = False) -> None:
        super().__init__(line, column, reason)
        self.line = line
        self.column = column or "-"
        self.reason = reason
        self.ja = ja or reason
        self.whole_file = whole_file

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"

    def in_japanese(self) -> CsvError:
        """The same error with its Japanese wording as the reason (for readers that speak Japanese)."""
        return CsvError(self.line, self.column, self.ja, self.ja, self.whole_file)


class CsvInvalid(ValueError):
    """The file was rejected; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[CsvError]) -> None:
        super().__init__(list(errors))
        self.errors: list[CsvError] = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class Record(NamedTuple):
    """One CSV record: Excel's row number, its cells, and the file line it starts on."""

    line: int
    cells: list[str]
    file_line: int


# --- decoding ----------------------------------------------------------------------------------


def _locate(data: bytes, offset: int, encoding: str) -> tuple[int, str]:
    """(Excel row, column) of the byte at ``offset``: quoted line breaks stay in one row, quoted
    commas in one cell; the column is named from the header when the header was read."""
    prefix = data[:offset].decode(encoding, errors="replace") + "x"  # "x": the cell the byte starts or continues
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(prefix, newline="")):
            rows.append(row)
    except csv.Error:
        rows.append([""])  # the byte is in the record the reader could not finish
    header = next((r for r in rows[:-1] if any(c.strip() for c in r)), None)
    index = len(rows[-1]) - 1
    names = [h.strip().lstrip("\ufeff") for h in header] if header else []
    column = names[index] if index < len(names) and names[index] else f"#{index + 1}"
    return len(rows), column


def _reads_as_utf8(prefix: bytes) -> bool:
    """True when the bytes before a bad byte already read as Japanese UTF-8 text."""
    text = prefix.decode("utf-8")
    japanese = 0
    for ch in text:
        if ord(ch) >= 0x3000 and unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA")):
            japanese += 1
            if japanese >= _UTF8_EVIDENCE:
                return True
    return False


def _undecodable(data: bytes, bad: UnicodeDecodeError, encoding: str, why: str, ja: str) -> CsvInvalid:
    line, column = _locate(data, bad.start, encoding)
    return CsvInvalid([CsvError(line, column, why, ja + SAVE_AS_UTF8)])


def decode(data: bytes) -> tuple[str, str]:
    """(text, "utf-8" | "cp932"); raise :class:`CsvInvalid` locating an undecodable byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data[:200].count(b"\x00") > 10:
        raise CsvInvalid(
            [
                CsvError(
                    1,
                    "-",
                    "the file is UTF-16 (Excel's 'Unicode text'); save it as CSV UTF-8",
                    "このファイルは UTF-16（Excelの「Unicode テキスト」）で保存されています。" + SAVE_AS_UTF8,
                    whole_file=True,
                )
            ]
        )
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            at, byte = exc.start + len(codecs.BOM_UTF8), body[exc.start]
            raise _undecodable(
                body,
                exc,
                "utf-8",
                f"invalid UTF-8 byte 0x{byte:02x} at byte {at}",
                f"UTF-8 として読めない文字があります（{at}バイト目 0x{byte:02x}）。",
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_exc:
        bad, name = utf8_exc, "UTF-8"
        if not _reads_as_utf8(data[: utf8_exc.start]):
            try:
                return data.decode("cp932"), "cp932"
            except UnicodeDecodeError as cp_exc:
                # Report the decoder that got further: that is the encoding the file was meant to be in.
                if cp_exc.start > utf8_exc.start:
                    bad, name = cp_exc, "CP932"
        raise _undecodable(
            data,
            bad,
            "utf-8" if name == "UTF-8" else "cp932",
            f"undecodable byte 0x{data[bad.start]:02x} at byte {bad.start} "
            f"(neither UTF-8 nor CP932; read as {name} up to there)",
            f"文字コードが UTF-8 でも Shift_JIS（CP932）でもない文字があります（{bad.start}バイト目 0x{data[bad.start]:02x}）。",
        ) from None


def decode_text(data: bytes) -> str:
    """The text of ``data`` (UTF-8 with or without BOM, or CP932); CsvInvalid on undecodable bytes."""
    return decode(data)[0]


# --- records -----------------------------------------------------------------------------------


def records(text: str) -> Iterator[Record]:
    """Every record of ``text``, blank ones included; a quoting error raises :class:`CsvError`."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0
    last_file_line = 0
    while True:
        line += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvError(
                line,
                "-",
                f"CSV syntax error: {exc}",
                f'CSVの書式が正しくありません（引用符「"」の閉じ忘れなど）: {exc}',
            ) from None
        file_line, last_file_line = last_file_line + 1, reader.line_num
        # Excel writes LF inside quoted cells, other tools CRLF or CR: keep only LF.
        yield Record(line, [c.replace("\r\n", "\n").replace("\r", "\n") if "\r" in c else c for c in row], file_line)


def is_blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)


def too_many_fields(line: int, width: int, found: int) -> CsvError:
    """A row with more filled cells than the header has columns (a comma not inside "…")."""
    return CsvError(
        line,
        "-",
        f"expected {width} fields, found {found}",
        f'列の数が見出し行（{width}列）より多い {found} 列です。セル内の「,」は "…" で囲んでください。',
    )


def find_column(header: Sequence[str], *names: str) -> int | None:
    """The position of the first of ``names`` in ``header`` (case ignored), or None."""
    lowered = [h.lower() for h in header]
    for name in names:
        if name.lower() in lowered:
            return lowered.index(name.lower())
    return None


def empty_file(line: int = 1) -> CsvError:
    return CsvError(line, "-", "empty file", "ファイルが空です。", whole_file=True)


class Sheet:
    """A decoded CSV: its header (the first row that is not blank) and the rows under it.

    Raises :class:`CsvInvalid` when the file cannot be decoded, is empty or its header is broken.
    :meth:`rows` yields the data rows lazily (a reader may stop early) and collects the problems of
    the file's shape — quoting errors, rows wider than the header — in :attr:`errors`.
    """

    def __init__(self, data: bytes | str) -> None:
        # Text for a reader that decoded the bytes itself (to tell CSV from another format first).
        self.text, self.encoding = (data, "text") if isinstance(data, str) else decode(bytes(data))
        if not self.text.strip():
            raise CsvInvalid([empty_file()])
        self._records = records(self.text)
        try:
            first = next((r for r in self._records if not is_blank(r.cells)), None)
        except CsvError as exc:
            raise CsvInvalid([exc]) from None
        if first is None:
            raise CsvInvalid([empty_file()])
        self.header_line, self.header_file_line = first.line, first.file_line
        self.header = [h.strip().lstrip("\ufeff") for h in first.cells]
        self.errors: list[CsvError] = []

    def rows(self) -> Iterator[Record]:
        """The rows that are not blank; short rows are padded with empty cells."""
        width = len(self.header)
        try:
            for rec in self._records:
                if is_blank(rec.cells):
                    continue  # blank lines between records are harmless
                if len(rec.cells) > width and not is_blank(rec.cells[width:]):
                    self.errors.append(too_many_fields(rec.line, width, len(rec.cells)))
                    continue
                yield Record(rec.line, rec.cells[:width] + [""] * (width - len(rec.cells)), rec.file_line)
        except CsvError as exc:
            self.errors.append(exc)

    def index(self, *names: str) -> int | None:
        return find_column(self.header, *names)

    def column_name(self, index: int) -> str:
        return self.header[index] if index < len(self.header) and self.header[index] else f"#{index + 1}"

    def as_dict(self, row: Record) -> dict[str, str]:
        """``{column: stripped cell}`` for the named columns (a blank header cell carries nothing)."""
        return {h: row.cells[i].strip() for i, h in enumerate(self.header) if h}

    def missing(self, required: Sequence[str]) -> list[CsvError]:
        """A ``missing required column`` error for each of ``required`` the header lacks."""
        return [
            CsvError(self.header_line, c, "missing required column", f"必須の列「{c}」が見出し行にありません。")
            for c in required
            if c not in self.header
        ]
