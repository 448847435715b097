"""Reading a staff-edited CSV the way Excel saves it (UTF-8 with or without BOM, or CP932)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator


class CsvFileError(ValueError):
    """One problem in a CSV file, located as `line N, column C: reason`."""

    def __init__(self, line: int, column: str, reason: str):
        super().__init__(f"line {line}, column {column}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason


class CsvFileInvalid(ValueError):
    """The file has errors; every one is listed."""

    def __init__(self, errors: list[CsvFileError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise CsvFileInvalid([CsvFileError(line, "-", "neither UTF-8 nor CP932")]) from None


def records(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped cell}) for each row after the header."""
    reader = csv.reader(io.StringIO(decode(data), newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise CsvFileInvalid([CsvFileError(1, "-", "the file is empty")]) from None
    except csv.Error as exc:
        raise CsvFileInvalid([CsvFileError(1, "-", f"CSV syntax error: {exc}")]) from None
    yield 1, {h: h for h in header}
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileInvalid([CsvFileError(start, "-", f"CSV syntax error: {exc}")]) from None
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            raise CsvFileInvalid([CsvFileError(start, f"#{len(header) + 1}", "more cells than header columns")])
        yield start, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h}
