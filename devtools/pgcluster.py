"""A throwaway PostgreSQL cluster from Debian's server binaries, for tests and benches.

initdb + pg_ctl in a temp directory on a free port (run as the `postgres` user when we are
root: the server refuses to run as root), trust authentication on 127.0.0.1 only, stopped and
deleted afterwards. Each test gets its own database (`new_database`), so tests stay independent.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from devtools.procs import free_port


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<n>/bin holding initdb and pg_ctl (None: not installed)."""
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            try:
                found.append((int(Path(d).parent.name), Path(d)))
            except ValueError:
                continue
    return max(found)[1] if found else None


def durable_cluster() -> PgCluster:
    """A started cluster that syncs to disk like production (benchmarks); exits when PostgreSQL is missing."""
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found: run scripts/ensure-postgresql.sh")
    return PgCluster(bindir, durable=True).start()


class PgCluster:
    """One running cluster; `url(dbname)` gives a DATABASE_URL."""

    def __init__(self, bindir: Path, base: Path | None = None, *, durable: bool = False):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="madoguchi-pg-", dir=base))
        self.data = self.base / "data"
        self.port = free_port()
        self.user = "postgres"
        self.durable = durable
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def start(self) -> PgCluster:
        if self._as_root:
            shutil.chown(self.base, "postgres", "postgres")
            os.chmod(self.base, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--locale=C")
        self._pg_ctl_start()
        return self

    def _options(self) -> str:
        opts = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.base}",
            "-c max_connections=300",
            "-c shared_buffers=64MB",
        ]
        if not self.durable:
            # Throwaway data: skip the fsyncs (a clean restart still writes everything out).
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(opts)

    def _pg_ctl_start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-o", self._options(), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (fast: clients are disconnected), stay down for a while, start again."""
        self.stop()
        time.sleep(down_seconds)
        self._pg_ctl_start()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "t", template: str | None = None) -> str:
        """Create a database (empty, or a copy of `template`) and return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def migrated_template(self) -> str:
        """A database with every migration applied, to copy per test (copying is faster than migrating)."""
        if getattr(self, "_template", None) is None:
            from store import Store

            url = self.new_database("template")
            store = Store(url)
            store.ensure_ready()
            store.close()
            self._template = url.rsplit("/", 1)[1]
        return self._template

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
