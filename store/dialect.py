"""The SQLite dialect store/ is written in, translated for PostgreSQL.

Store modules write one portable SQL text (`?` placeholders, `INTEGER PRIMARY KEY AUTOINCREMENT`,
`INSERT OR IGNORE`, `ON CONFLICT … DO UPDATE`, `RETURNING`, REAL/INTEGER columns) and run it
on both engines unchanged. `translate` rewrites it for PostgreSQL:

- placeholders `?` → `%s` (and a literal `%` → `%%`, as psycopg parses the whole text);
- DDL types: INTEGER → BIGINT (SQLite integers are 64-bit), REAL → DOUBLE PRECISION,
  BLOB → BYTEA, `INTEGER PRIMARY KEY [AUTOINCREMENT]` → an identity column, `WITHOUT ROWID`
  and `STRICT` dropped;
- `INSERT OR IGNORE` → `ON CONFLICT DO NOTHING`; `INSERT OR REPLACE` → an upsert on the
  primary key; in `ON CONFLICT … DO UPDATE SET` the bare column names of the target row are
  qualified (PostgreSQL calls `n = n + excluded.n` ambiguous);
- an INSERT into a table with an identity column gets `RETURNING <that column>`, which is how
  `cursor.lastrowid` keeps working;
- `IFNULL` → `COALESCE`, `date(x, 'unixepoch'[, 'localtime'])` → `to_char(to_timestamp(x), …)`
  (the session time zone is the process's local one), the column name `user` quoted.

What text cannot translate (SQLite trigger bodies, `rowid`, `PRAGMA`, `BEGIN IMMEDIATE`, scalar
`MAX(a, b)`) is written per engine at its call site, using `engine(db)` / `skip_locked(db)`.
`SUM(<boolean>)` works on PostgreSQL through an aggregate the engine installs (store/pg.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def engine(db: Any) -> str:
    """'sqlite' or 'postgresql' for a store connection."""
    return getattr(db, "engine", SQLITE)


def is_postgres(db: Any) -> bool:
    return engine(db) == POSTGRESQL


def skip_locked(db: Any, of: str | None = None) -> str:
    """Suffix for the SELECT inside a claiming UPDATE: other claimers skip rows being taken.

    SQLite has one writer at a time, so the plain subquery is already exclusive there; under
    PostgreSQL's READ COMMITTED two claimers would otherwise pick the same row and the loser
    would wait for it and then claim nothing (or, with `IN (…)`, the same row twice).
    """
    if not is_postgres(db):
        return ""
    return f" FOR UPDATE OF {of} SKIP LOCKED" if of else " FOR UPDATE SKIP LOCKED"


@dataclass
class TableInfo:
    columns: list[str]
    pk: list[str]
    identity: str | None = None


@dataclass
class Schema:
    """What the translator needs to know of the PostgreSQL schema (loaded by store/pg.py)."""

    tables: dict[str, TableInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class Translated:
    sql: str
    returning_added: bool = False  # the result row carries only the new id (for lastrowid)


class DialectError(ValueError):
    """SQL that cannot run on PostgreSQL and has no automatic translation."""


_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_MARK = "\x00{}\x00"
_MARK_RE = re.compile(r"\x00(\d+)\x00")


def _mask(sql: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def keep(m: re.Match[str]) -> str:
        if m.group(0).startswith("--"):
            return " "
        saved.append(m.group(0))
        return _MARK.format(len(saved) - 1)

    return _LITERAL.sub(keep, sql), saved


def _unmask(sql: str, saved: list[str]) -> str:
    return _MARK_RE.sub(lambda m: saved[int(m.group(1))], sql)


_DDL = re.compile(r"^\s*(CREATE|ALTER)\s+(TABLE|TEMP|TEMPORARY|UNIQUE|INDEX)\b", re.I)
_IDENTITY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.I)
_TYPES = [
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
]
_TABLE_OPTIONS = re.compile(r"\)\s*((?:WITHOUT\s+ROWID|STRICT)(?:\s*,\s*(?:WITHOUT\s+ROWID|STRICT))*)\s*;?\s*$", re.I)
_INSERT_OR = re.compile(r"^\s*(?:INSERT\s+OR\s+(IGNORE|REPLACE)|(REPLACE))\s+INTO\b", re.I)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\"?\w+\"?)\s*(\(([^)]*)\))?", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_ON_CONFLICT_UPDATE = re.compile(r"\bON\s+CONFLICT\b[^)]*\)?\s*(?:WHERE\b.*?)?\bDO\s+UPDATE\s+SET\b", re.I | re.S)
_IFNULL = re.compile(r"\bIFNULL\s*\(", re.I)
_DATE = re.compile(r"\bdate\(\s*([\w.]+)\s*,\s*\x00(\d+)\x00\s*(?:,\s*\x00(\d+)\x00\s*)?\)", re.I)
_USER = re.compile(r"(?<![\w\"])user(?![\w\"])")
_IDENT = re.compile(r"(?<![\w.\"\x00])([A-Za-z_]\w*)(?![\w\"(]|\s*\.|\s*\()")
_SQLITE_ONLY = [
    (re.compile(r"^\s*PRAGMA\b", re.I), "PRAGMA is SQLite-only"),
    (re.compile(r"^\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b", re.I), "use store.transaction()"),
    (re.compile(r"\browid\b", re.I), "rowid does not exist on PostgreSQL"),
    (re.compile(r"\b(julianday|strftime)\s*\(", re.I), "SQLite date function"),
    (re.compile(r"\bGLOB\b", re.I), "GLOB is SQLite-only"),
    (re.compile(r"\bjson_\w+\s*\(", re.I), "SQLite JSON function"),
]


def _top_level_split(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _qualify_updates(code: str, table: str, info: TableInfo | None) -> str:
    """In `ON CONFLICT … DO UPDATE SET a = <expr>, …` qualify the target row's columns in <expr>."""
    m = _ON_CONFLICT_UPDATE.search(code)
    if m is None or info is None:
        return code
    head, rest = code[: m.end()], code[m.end() :]
    tail = ""
    ret = _RETURNING.search(rest)
    if ret:
        rest, tail = rest[: ret.start()], rest[ret.start() :]
    where = re.search(r"\bWHERE\b", rest, re.I)
    if where:
        rest, tail = rest[: where.start()], rest[where.start() :] + tail
    columns = set(info.columns)

    def qualify(expr: str) -> str:
        return _IDENT.sub(lambda i: f"{table}.{i.group(1)}" if i.group(1) in columns else i.group(1), expr)

    out = []
    for assignment in _top_level_split(rest):
        if "=" in assignment:
            lhs, rhs = assignment.split("=", 1)
            out.append(f"{lhs}={qualify(rhs)}")
        else:
            out.append(assignment)
    return head + ",".join(out) + tail


def translate(sql: str, schema: Schema | None = None, *, many: bool = False) -> Translated:
    """Rewrite one statement of the SQLite dialect for PostgreSQL (see the module docstring)."""
    schema = schema or Schema()
    code, saved = _mask(sql)
    ddl = bool(_DDL.match(code))
    if ddl:
        code = _TABLE_OPTIONS.sub(")", code)
    for pattern, why in _SQLITE_ONLY:
        if pattern.search(code):
            raise DialectError(f"{why}: write this statement per engine ({sql[:80]!r})")
    returning_added = False
    if ddl:
        code = _IDENTITY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", code)
        for pattern, repl in _TYPES:
            code = pattern.sub(repl, code)
    else:
        how = None
        m = _INSERT_OR.match(code)
        if m:
            how = (m.group(1) or m.group(2)).upper()
            code = code[: m.start()] + "INSERT INTO" + code[m.end() :]
        ins = _INSERT.match(code)
        if ins:
            table = ins.group(1).strip('"')
            info = schema.tables.get(table)
            ret = _RETURNING.search(code)
            main, returning = (code[: ret.start()], code[ret.start() :]) if ret else (code, "")
            main = main.rstrip().rstrip(";")
            if how == "IGNORE":
                main += " ON CONFLICT DO NOTHING"
            elif how == "REPLACE":
                if info is None or not info.pk or ins.group(3) is None:
                    raise DialectError(f"INSERT OR REPLACE needs a column list and a known table ({table})")
                cols = [c.strip().strip('"') for c in ins.group(3).split(",")]
                updates = [c for c in cols if c not in info.pk]
                conflict = ", ".join(info.pk)
                main += (
                    f" ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updates)
                    if updates
                    else f" ON CONFLICT ({conflict}) DO NOTHING"
                )
            main = _qualify_updates(main, table, info)
            if not returning and not many and info is not None and info.identity:
                returning = f" RETURNING {info.identity}"
                returning_added = True
            code = main + (" " + returning.lstrip() if returning else "")
    code = _IFNULL.sub("COALESCE(", code)

    def date(m: re.Match[str]) -> str:
        mods = [saved[int(g)].strip("'").lower() for g in (m.group(2), m.group(3)) if g is not None]
        if mods[0] != "unixepoch" or (len(mods) > 1 and mods[1] not in ("localtime", "utc")):
            raise DialectError(f"date() with modifiers {mods} has no translation")
        zone = "" if "localtime" in mods else " AT TIME ZONE 'UTC'"
        return f"to_char(to_timestamp({m.group(1)}){zone}, 'YYYY-MM-DD')"

    code = _DATE.sub(date, code)
    code = _USER.sub('"user"', code)
    code = code.replace("?", "\x01")
    out = _unmask(code, saved).replace("%", "%%").replace("\x01", "%s")
    return Translated(out, returning_added)
