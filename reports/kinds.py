"""The ward's report kinds (Open311 services), from a CSV staff edit in Excel.

Columns: `code` (required, unique; the Open311 service_code: letters, digits, `-`, `_`),
`name` (required; Japanese), optional `department` (who handles it by default),
`description`, `keywords` (separated by `|`), `group`, and `name_<lang>` per language
(`easy`, `en`, `zh`, `zh-Hant`, `ko`, `vi`, `pt`). Errors: `line N, column C: reason`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from excelcsv import CsvError, CsvInvalid, Sheet

REQUIRED = ("code", "name")
OPTIONAL = ("department", "description", "keywords", "group")
LANGS = ("easy", "en", "zh", "zh-Hant", "ko", "vi", "pt")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_KINDS = 12  # LINE's quick reply holds 13 items; one stays for 「やめる」


@dataclass(frozen=True)
class ReportKind:
    code: str
    name: str
    department: str = ""
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        """The kind's name in `lang` (やさしい日本語, then Japanese when not translated)."""
        return self.names.get(lang) or (self.names.get("easy") if lang != "ja" else None) or self.name


def parse_kinds(data: bytes) -> list[ReportKind]:
    """Parse the kinds CSV; raise CsvInvalid listing every error."""
    sheet = Sheet(data)
    header, top = sheet.header, sheet.header_line
    errors: list[CsvError] = []
    known = set(REQUIRED) | set(OPTIONAL) | {f"name_{lang}" for lang in LANGS}
    for col in REQUIRED:
        if col not in header:
            errors.append(CsvError(top, col, "required column is missing"))
    for col in header:
        if col not in known:
            errors.append(CsvError(top, col, "unknown column"))
    if errors:
        raise CsvInvalid(errors)
    kinds: list[ReportKind] = []
    seen: dict[str, int] = {}
    for record in sheet.rows():
        line, row = record.line, sheet.as_dict(record)
        code, name = row.get("code", ""), row.get("name", "")
        if not code:
            errors.append(CsvError(line, "code", "empty"))
        elif not CODE_RE.match(code):
            errors.append(CsvError(line, "code", "use letters, digits, - or _ (at most 40)"))
        elif code in seen:
            errors.append(CsvError(line, "code", f"duplicate of line {seen[code]}"))
        else:
            seen[code] = line
        if not name:
            errors.append(CsvError(line, "name", "empty"))
        elif len(name) > 20:
            errors.append(CsvError(line, "name", "longer than 20 characters (LINE's button label limit)"))
        names = {lang: row[f"name_{lang}"] for lang in LANGS if row.get(f"name_{lang}")}
        for lang, label in names.items():
            if len(label) > 20:
                errors.append(CsvError(line, f"name_{lang}", "longer than 20 characters"))
        kinds.append(
            ReportKind(
                code=code,
                name=name,
                department=row.get("department", ""),
                description=row.get("description", ""),
                group=row.get("group", ""),
                keywords=tuple(k.strip() for k in row.get("keywords", "").split("|") if k.strip()),
                names=names,
            )
        )
    errors.extend(sheet.errors)
    if not kinds and not errors:
        errors.append(CsvError(top + 1, "-", "no report kinds"))
    if len(kinds) > MAX_KINDS:
        errors.append(CsvError(top, "-", f"at most {MAX_KINDS} kinds (LINE's quick reply limit)"))
    if errors:
        raise CsvInvalid(sorted(errors, key=lambda e: e.line))
    return kinds


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> tuple[ReportKind, ...]:
    return tuple(parse_kinds(Path(path).read_bytes()))


def load_kinds(path: str | Path) -> list[ReportKind]:
    """The kinds in the file at `path`, re-read when staff save a new version."""
    p = Path(path)
    return list(_cached(str(p), p.stat().st_mtime))


def by_code(kinds: list[ReportKind], code: str) -> ReportKind | None:
    return next((k for k in kinds if k.code == code), None)
