"""Storage: the only package that holds SQL.

`Store` owns the database location. Two engines, one storage API:

- `sqlite:///path` (the embedded default): one sqlite-utils `Database` per thread (SQLite
  connections must not cross threads), migrations by `sqlite_utils.Migrations` under a file lock.
- `postgresql://user@host:port/db` (several web processes and workers on several hosts): one
  `store.pg.PgDatabase` per process, a psycopg pool shared by its threads, the same migrations
  applied once under an advisory lock, SQL translated by `store.dialect`.

Each domain keeps its SQL in its own module here (`store.core`, `store.alerts`, …) with its own
`sqlite_utils.Migrations` set, applied in the order of MIGRATION_MODULES, written once in the
SQLite dialect (see store/dialect.py for what is portable).
"""

from __future__ import annotations

import fcntl
import importlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

# PostgreSQL connections per process, and seconds a statement waits for one before StoreUnavailable
# (the app passes MADOGUCHI_PG_POOL_MAX / MADOGUCHI_PG_POOL_TIMEOUT; scripts get these).
PG_POOL_MAX = 10
PG_POOL_TIMEOUT = 3.0
# Order matters: later sets may reference tables of earlier ones.
MIGRATION_MODULES = (
    "store.core",
    "store.audit",
    "store.residents",
    "store.alerts",
    "store.shelters",
    "store.admin",
    "store.garbage",
    "store.reports",
    "store.richmenu",
    "store.outbox",
    "store.surveys",
    "store.opinions",
)


class StoreError(Exception):
    """Base class of storage errors."""


class UnsupportedDatabaseUrl(StoreError):
    """DATABASE_URL names a database this build cannot open."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (PostgreSQL restart, network): retry later."""


def is_postgres_url(database_url: str) -> bool:
    return database_url.startswith(("postgresql://", "postgres://"))


def sqlite_path(database_url: str) -> Path:
    """Return the file path of a `sqlite:///path` URL (relative paths are relative to CWD)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise UnsupportedDatabaseUrl(
            "DATABASE_URL must look like sqlite:///path/to/file.db or postgresql://user@host:5432/dbname,"
            f" got {database_url.split(':', 1)[0]}:…"
        )
    rest = database_url[len(prefix) :]
    if not rest:
        raise UnsupportedDatabaseUrl("DATABASE_URL has no file path")
    return Path(rest)


def connect(path: Path) -> sqlite_utils.Database:
    """Open one connection with the pragmas every process uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return sqlite_utils.Database(conn)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply every pending migration of every domain, in order."""
    for name in MIGRATION_MODULES:
        module = importlib.import_module(name)
        module.migrations.apply(db)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise start-up work (migrations, seeding) across gunicorn workers."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Store:
    """One database: per-thread SQLite connections or a per-process PostgreSQL pool, migrated on first use."""

    def __init__(
        self,
        database_url: str,
        *,
        cache_dir: str | Path | None = None,
        pool_max: int = PG_POOL_MAX,
        pool_timeout: float = PG_POOL_TIMEOUT,
    ):
        """``cache_dir``: the local cache directory (None: beside the SQLite file, else instance/);
        ``pool_max`` / ``pool_timeout``: PostgreSQL connections per process / seconds to wait for one."""
        self.url = database_url
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self.engine = "postgresql" if is_postgres_url(database_url) else "sqlite"
        self.path: Path | None = None
        self._pg = None
        if self.engine == "postgresql":
            try:
                from store.pg import PgDatabase
            except ImportError as err:  # pragma: no cover - psycopg is in requirements.txt
                raise UnsupportedDatabaseUrl("PostgreSQL needs psycopg: pip install -r requirements.txt") from err
            self._pg = PgDatabase(database_url.replace("postgres://", "postgresql://", 1), pool_max, pool_timeout)
        else:
            self.path = sqlite_path(database_url)
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._pid = os.getpid()

    @property
    def cache_dir(self) -> Path:
        """Where caches (embeddings) go: ``cache_dir`` when given, else next to the SQLite file, else instance/."""
        if self._cache_dir is not None:
            return self._cache_dir
        return self.path.parent if self.path is not None else Path("instance")

    def ensure_ready(self) -> None:
        """Migrate once per process (under a lock shared by all processes)."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            if self._pg is not None:
                from store import pg

                pg.migrate(self._pg, MIGRATION_MODULES)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
                with _file_lock(self.path):  # type: ignore[arg-type]
                    db = connect(self.path)  # type: ignore[arg-type]
                    try:
                        migrate(db)
                    finally:
                        db.conn.close()
            self._ready = True

    @contextmanager
    def exclusive(self) -> Iterator[sqlite_utils.Database]:
        """A connection held under the cross-process start-up lock (for seeding)."""
        self.ensure_ready()
        if self._pg is not None:
            from store import pg

            with pg.startup_lock(self._pg) as db:
                yield db  # type: ignore[misc]
            return
        with _file_lock(self.path):  # type: ignore[arg-type]
            yield self.db

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (created on first use; a forked child gets new ones)."""
        if self._pg is not None:
            self.ensure_ready()
            return self._pg  # type: ignore[return-value]
        if os.getpid() != self._pid:
            self._local = threading.local()
            self._pid = os.getpid()
        db = getattr(self._local, "db", None)
        if db is None:
            self.ensure_ready()
            db = connect(self.path)  # type: ignore[arg-type]
            self._local.db = db
        return db

    def close_thread_connection(self) -> None:
        if self._pg is not None:
            return  # pooled: nothing is held by the thread outside a transaction
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def close(self) -> None:
        """Close this process's connections (the pool on PostgreSQL)."""
        if self._pg is not None:
            self._pg.close()
        else:
            self.close_thread_connection()


@contextmanager
def transaction(db: sqlite_utils.Database, immediate: bool = True) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE … COMMIT (rolled back on error); connections run in autocommit otherwise.

    On PostgreSQL the same guarantee (one write transaction at a time) comes from an advisory
    lock on a pinned pool connection (store.pg.PgDatabase.transaction).
    """
    if getattr(db, "engine", "sqlite") == "postgresql":
        with db.transaction(immediate) as tx:  # type: ignore[attr-defined]
            yield tx
        return
    db.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")
