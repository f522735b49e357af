"""A private PostgreSQL for the tests of one module, started with scripts/testworld/postgres.sh.

    from pg_world import pg_world  # noqa: F401  (the module-scoped fixture)

    def test_x(pg_world):
        pg_world.url                 # postgresql://ferry:PASSWORD@127.0.0.1:PORT/ferry, for FERRY_DATABASE_URL
        pg_world.sql("SELECT 1")     # runs SQL as the superuser over the Unix socket, returns psql -At output

The server runs under a temporary folder that is removed afterwards unless FERRY_KEEP_WORLD is set.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "testworld", "postgres.sh")
PG_BIN = os.environ.get("FERRY_PG_BIN", "/usr/lib/postgresql/15/bin")


class PgWorld:
    """One PostgreSQL server under `directory`; start() and stop() are idempotent."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.url: str | None = None
        self.port: int | None = None

    def start(self) -> "PgWorld":
        done = subprocess.run(["bash", SCRIPT, "start", self.directory], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"postgres.sh start failed:\n{done.stderr}"
        for line in done.stdout.splitlines():
            if line.startswith("FERRY_TEST_PG_URL="):
                self.url = line.split("=", 1)[1]
        assert self.url, f"postgres.sh printed no FERRY_TEST_PG_URL:\n{done.stdout}"
        with open(os.path.join(self.directory, "port")) as f:
            self.port = int(f.read().strip())
        return self

    def stop(self) -> None:
        subprocess.run(["bash", SCRIPT, "stop", self.directory], capture_output=True, timeout=120)

    def sql(self, statement: str) -> str:
        """Runs `statement` in database ferry as the superuser (trusted Unix socket: no password)."""
        done = subprocess.run(
            [os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
             "-h", os.path.join(self.directory, "sock"), "-p", str(self.port), "-U", "postgres", "-d", "ferry",
             "-c", statement],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"psql failed: {done.stderr}"
        return done.stdout.strip()


@pytest.fixture(scope="module")
def pg_world():
    directory = tempfile.mkdtemp(prefix="ferry-pg-")
    world = PgWorld(directory)
    # Also on an abrupt end of the interpreter: a server left running would keep its port and files.
    atexit.register(world.stop)
    try:
        yield world.start()
    finally:
        world.stop()
        atexit.unregister(world.stop)
        if not os.environ.get("FERRY_KEEP_WORLD"):
            shutil.rmtree(directory, ignore_errors=True)
