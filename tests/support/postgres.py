"""A throwaway PostgreSQL cluster on loopback for the database tests: initdb into a temp
directory, `pg_ctl start` on a free port (as the `postgres` user when run as root), one
migrated template database, and a fresh copy of it per test."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mta.db.engine import create_schema, make_engine
from tests.support.server import free_port

TEMPLATE = "scaisend_template"


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PATH first, then Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="scaisend-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_user else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresCluster:
        if self._as_user:  # PostgreSQL refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        initdb, pg_ctl = str(self.bindir / "initdb"), str(self.bindir / "pg_ctl")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-k {self.root} -p {self.port} -h 127.0.0.1 -F"  # -F: no fsync
        log = str(self.root / "log")
        self._run(pg_ctl, "start", "-w", "-t", "60", "-D", str(self.data), "-l", log, "-o", options)
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, template: str = TEMPLATE) -> str:
        """A new database copied from `template` (the migrated one); its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def drop_database(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def make_template(self) -> None:
        await self._admin(f'CREATE DATABASE "{TEMPLATE}"')
        engine = make_engine(self.url(TEMPLATE))
        try:
            await create_schema(engine)
        finally:
            await engine.dispose()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One cluster for the session, with the migrated template; skips without PostgreSQL."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    if os.geteuid() == 0 and not _has_user("postgres"):
        pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
    cluster = PostgresCluster(bindir).start()
    try:
        # In a thread: the fixture may be first asked for from inside a running loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, cluster.make_template()).result(timeout=120)
        yield cluster
    finally:
        cluster.stop()
