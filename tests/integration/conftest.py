"""pytest fixtures: one private server per kind for the session, a fresh Ferry per test.

- `world`: the server (Prosody or ejabberd — every test using it runs against both, or against those
  named in $FERRY_SERVERS), healed
  before each test (resumed if paused, restarted if dead).
- `ferry_binary`: $FERRY_BIN (default build/ferry) copied at session start; missing = failure.
- `start_ferry(**kw)`: starts a Ferry process against `world`; all of them are stopped after the test.
- `ferry`: a Ferry already connected to `world` (its 'component connected' line is logged).

Set FERRY_KEEP_WORLD=1 to keep the servers' directories (configs, logs) after the run.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

# The fakes of services that cannot be installed here (Slack, Matrix, Telegram, …) live in tests/fakes.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fakes"))

import world as world_mod
from ferry_process import Ferry, snapshot_binary

# FERRY_SERVERS=prosody (comma-separated) narrows the run; the default is both.
SERVER_KINDS = [k for k in os.environ.get("FERRY_SERVERS", "prosody,ejabberd").split(",") if k]


def pytest_configure(config):
    # A SIGTERM to pytest would otherwise end Python without finalizers or atexit handlers and
    # leave the servers running: turn it into an interrupt, which pytest tears down after.
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session", params=SERVER_KINDS)
def server(request):
    srv = world_mod.make_server(request.param)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def world(server):
    if server.paused:
        server.resume()
    if not server.running():
        server.start()
    yield server
    if server.paused:
        server.resume()


@pytest.fixture(scope="session")
def ferry_binary(tmp_path_factory):
    """The binary under test, copied once: a rebuild during the run does not affect it."""
    return snapshot_binary(str(tmp_path_factory.mktemp("bin")))


@pytest.fixture
def start_ferry(request, world, tmp_path, ferry_binary):
    ferries: list[Ferry] = []
    request.node._ferries = ferries

    def start(**kw) -> Ferry:
        f = Ferry(world, str(tmp_path), name=f"ferry{len(ferries)}", binary=ferry_binary, **kw)
        ferries.append(f)
        return f.start()

    yield start
    for f in ferries:
        f.stop(timeout=5)


@pytest.fixture
def ferry(start_ferry):
    f = start_ferry()
    f.wait_connected(timeout=10)
    return f


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for f in getattr(item, "_ferries", []):
        rep.sections.append((f"{os.path.basename(f.stderr_path)} (tail)", f.log_tail(80)))
    srv = item.funcargs.get("world") if hasattr(item, "funcargs") else None
    if srv is not None:
        rep.sections.append((f"{srv.kind} log (tail)", srv.log_tail(30)))
