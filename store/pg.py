"""The PostgreSQL engine: a psycopg 3 pool behind the part of sqlite-utils' Database that store/ uses.

`PgDatabase.execute(sql, params)` takes the SQLite dialect (store/dialect.py translates it) and
returns a buffered cursor (fetchone/fetchall/iteration, rowcount, lastrowid); `query` yields dicts;
`conn.executemany` is there for bulk inserts. Outside a transaction every statement borrows a
pooled connection in autocommit mode and gives it straight back, so one object serves every thread
of a process. `store.transaction(db)` pins one connection to the calling thread until COMMIT.

Connection loss: a statement whose connection broke, or that cannot get one within
`pool_timeout` seconds (`MADOGUCHI_PG_POOL_TIMEOUT`), raises `StoreUnavailable` (the web tier answers 503 and LINE redelivers);
the pool drops broken connections and reconnects in the background.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import adapt
from psycopg_pool import ConnectionPool, PoolTimeout

from store import PG_POOL_MAX, PG_POOL_TIMEOUT, StoreUnavailable
from store.dialect import POSTGRESQL, Schema, TableInfo, Translated, translate

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "madoguchi_migrations"
# pg_advisory_lock keys: one for start-up work (migrations, seeding), one for write transactions.
STARTUP_LOCK = 0x6D61_646F_0001
WRITE_LOCK = 0x6D61_646F_0002


class _NumericLoader(adapt.Loader):
    """SUM/AVG of BIGINT are NUMERIC: load them as int or float, like SQLite returns them."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return float(text) if "." in text or "e" in text.lower() else int(text)


def _local_time_zone() -> str:
    """The process's local zone for `date(at, 'unixepoch', 'localtime')` (TZ, else the UTC offset)."""
    tz = os.environ.get("TZ")
    if tz and "/" in tz:
        return tz
    offset = -time.altzone if time.daylight and time.localtime().tm_isdst > 0 else -time.timezone
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    # POSIX zone strings count west-positive, hence the flipped sign.
    return f"<{sign}{offset // 3600:02d}{offset % 3600 // 60:02d}>{'-' if sign == '+' else '+'}{offset // 3600}:{offset % 3600 // 60:02d}"


# A connection used within this many seconds is handed out without a test query: checking every
# checkout would cost one more round trip per statement. One idle for longer (perhaps across a
# server restart) is tested first and replaced if broken.
CHECK_IDLE_SECONDS = 2.0


def _returned(conn: psycopg.Connection) -> None:
    conn._madoguchi_returned = time.monotonic()  # type: ignore[attr-defined]  # our own mark on the pooled connection


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_loader("numeric", _NumericLoader)
    conn.execute("SELECT set_config('TimeZone', %s, false)", [_local_time_zone()])
    conn.commit()


class PgCursor:
    """A fully fetched result, shaped like sqlite3.Cursor."""

    def __init__(self, rows: list[tuple], description: Any, rowcount: int, lastrowid: int | None):
        self._rows = rows
        self._pos = 0
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple | None:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[tuple]:
        rows = self._rows[self._pos :]
        self._pos = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row


class _ConnShim:
    """`db.conn` on PostgreSQL: executemany for bulk writes (close is the pool's job)."""

    def __init__(self, db: PgDatabase):
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, seq: Any) -> None:
        self._db.executemany(sql, seq)

    def close(self) -> None:
        """Pooled connections stay open (Store.close_thread_connection calls this)."""


class PgDatabase:
    """One PostgreSQL database: a connection pool shared by the threads of this process."""

    engine = POSTGRESQL

    def __init__(self, url: str, max_size: int = PG_POOL_MAX, timeout: float = PG_POOL_TIMEOUT):
        self.url = url
        self.max_size = max_size
        self.timeout = timeout
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._sweeping = threading.Lock()
        self._local = threading.local()
        self.schema = Schema()
        self._translated: dict[tuple[str, bool], Translated] = {}
        self.conn = _ConnShim(self)

    # --- connections --------------------------------------------------------------------

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None or self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    # A forked child must not share the parent's sockets: start its own pool.
                    self._local = threading.local()
                    self._pool = ConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=self.max_size,
                        kwargs={"autocommit": True, "connect_timeout": max(2, int(self.timeout))},
                        configure=_configure,
                        check=self._check,
                        reset=_returned,
                        timeout=self.timeout,
                        reconnect_timeout=24 * 3600,
                        name="madoguchi",
                        open=True,
                    )
                    self._pool_pid = os.getpid()
        return self._pool

    def _check(self, conn: psycopg.Connection) -> None:
        """Test a connection that sat idle; when it is broken (server restart), test all idle ones.

        The pool retries a failed check after a backoff; without sweeping the others first, each
        stale connection would cost another backoff and a request would time out behind them.
        """
        if time.monotonic() - getattr(conn, "_madoguchi_returned", 0.0) <= CHECK_IDLE_SECONDS:
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            pool = self._pool
            if pool is not None and self._sweeping.acquire(blocking=False):

                def sweep() -> None:
                    try:
                        pool.check()
                    finally:
                        self._sweeping.release()

                threading.Thread(target=sweep, name="pg-pool-sweep", daemon=True).start()
            raise

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """This thread's pinned connection, or one borrowed from the pool for the block."""
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise StoreUnavailable(f"no PostgreSQL connection within {self.timeout:g}s") from err

    @contextmanager
    def pinned(self) -> Iterator[psycopg.Connection]:
        """Keep one connection for this thread across statements (transactions, locks)."""
        if getattr(self._local, "conn", None) is not None:
            yield self._local.conn
            return
        with self.connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def transaction(self, immediate: bool = True) -> Iterator[PgDatabase]:
        """BEGIN … COMMIT on a pinned connection.

        `immediate` keeps SQLite's BEGIN IMMEDIATE guarantee that write transactions run one
        at a time: a transaction-scoped advisory lock serialises them across processes and
        hosts, so read-then-write code (finish the alert when no batch is pending, reject a
        taken user name) stays correct under READ COMMITTED. The hot paths (claiming events
        and batches, recording a delivery attempt) are single statements outside it.
        """
        if getattr(self._local, "in_tx", False):
            yield self  # nested: the outer transaction decides
            return
        with self.pinned() as conn:
            self._local.in_tx = True
            try:
                with _translate_errors(), conn.transaction():
                    if immediate:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                    yield self
            finally:
                self._local.in_tx = False

    def close(self) -> None:
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close(timeout=1)
        self._pool = None

    # --- statements ---------------------------------------------------------------------

    def _translate(self, sql: str, many: bool = False) -> Translated:
        key = (sql, many)
        t = self._translated.get(key)
        if t is None:
            t = translate(sql, self.schema, many=many)
            self._translated[key] = t
        return t

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> PgCursor:
        t = self._translate(sql)
        with _translate_errors(), self.connection() as conn:
            cur = conn.execute(t.sql, list(params) if params is not None else [])
            rows = cur.fetchall() if cur.description is not None else []
            lastrowid = None
            if t.returning_added:
                lastrowid = rows[0][0] if rows else None
                return PgCursor([], None, cur.rowcount, lastrowid)
            return PgCursor(rows, cur.description, cur.rowcount, lastrowid)

    def executemany(self, sql: str, seq: Any) -> None:
        t = self._translate(sql, many=True)
        rows = [list(r) for r in seq]
        if not rows:
            return
        with _translate_errors(), self.connection() as conn, conn.cursor() as cur:
            cur.executemany(t.sql, rows)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d.name for d in cur.description or ()]
        for row in cur.fetchall():
            yield dict(zip(names, row, strict=True))

    def table_names(self) -> list[str]:
        return [
            r[0]
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]

    def load_schema(self) -> None:
        """Read tables, primary keys and identity columns (the translator needs them)."""
        tables: dict[str, TableInfo] = {}
        with self.connection() as conn:
            for table, column, identity in conn.execute(
                "SELECT table_name, column_name, is_identity FROM information_schema.columns"
                " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            ):
                info = tables.setdefault(table, TableInfo([], []))
                info.columns.append(column)
                if identity == "YES":
                    info.identity = column
            for table, column in conn.execute(
                "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc"
                " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
                " AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name"
                " WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"
                " ORDER BY tc.table_name, kcu.ordinal_position"
            ):
                tables.setdefault(table, TableInfo([], [])).pk.append(column)
        self.schema.tables = tables
        self._translated.clear()


@contextmanager
def _translate_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as err:
        raise StoreUnavailable(f"PostgreSQL unavailable: {type(err).__name__}") from err


# --- migrations ------------------------------------------------------------------------------

# Helpers the SQLite dialect relies on: SUM over a comparison (SQLite booleans are integers).
_COMPAT = [
    """CREATE OR REPLACE FUNCTION madoguchi_bool_sum(acc bigint, v boolean) RETURNS bigint
       LANGUAGE sql IMMUTABLE AS 'SELECT COALESCE(acc, 0) + COALESCE(v::int, 0)'""",
    """DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.proname = 'sum' AND n.nspname = current_schema()
                        AND p.proargtypes = '16'::oidvector) THEN
           CREATE AGGREGATE sum(boolean) (SFUNC = madoguchi_bool_sum, STYPE = bigint);
         END IF;
       END $$""",
]


def migrate(db: PgDatabase, modules: Sequence[str]) -> list[str]:
    """Apply every pending migration once, even when many processes start together.

    A session advisory lock makes the other processes wait; each migration runs in its own
    transaction together with its row in madoguchi_migrations. Returns the names applied.
    """
    applied_now: list[str] = []
    with db.pinned() as conn, _translate_errors():
        conn.execute("SELECT pg_advisory_lock(%s)", [STARTUP_LOCK])
        try:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (migration_set TEXT NOT NULL, name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (migration_set, name))"
            )
            for statement in _COMPAT:
                conn.execute(statement)
            done = {(s, n) for s, n in conn.execute(f"SELECT migration_set, name FROM {MIGRATIONS_TABLE}")}
            db.load_schema()
            for name in modules:
                migrations = importlib.import_module(name).migrations
                for m in migrations._migrations:  # sqlite-utils keeps the registered list here
                    if (migrations.name, m.name) in done:
                        continue
                    with conn.transaction():
                        db._local.in_tx = True  # statements of the migration join this transaction
                        try:
                            m.fn(db)
                        finally:
                            db._local.in_tx = False
                        conn.execute(
                            f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, applied_at) VALUES (%s, %s, %s)",
                            [migrations.name, m.name, time.time()],
                        )
                    db.load_schema()  # later migrations may insert into the tables just made
                    applied_now.append(f"{migrations.name}/{m.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [STARTUP_LOCK])
    db.load_schema()
    if applied_now:
        log.info("PostgreSQL migrations applied: %s", ", ".join(applied_now))
    return applied_now


@contextmanager
def startup_lock(db: PgDatabase) -> Iterator[PgDatabase]:
    """Hold the cross-process start-up lock (seeding after migrations) on a pinned connection."""
    with db.pinned() as conn, _translate_errors():
        conn.execute("SELECT pg_advisory_lock(%s)", [STARTUP_LOCK])
        try:
            yield db
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [STARTUP_LOCK])
