"""Private real XMPP servers for Ferry's integration tests, demo and benchmarks.

A `Prosody` or `Ejabberd` instance runs as a child process group under a directory of its own,
listens only on 127.0.0.1 on free ports, serves one XMPP external component (XEP-0114) with a
known secret and has the users alice and bob. It can be killed hard and started again on the
same ports and data, paused (SIGSTOP) and resumed (SIGCONT). Everything started here is killed
at interpreter exit as a last resort; `close()` (or the context manager) is the normal way.

Traps handled here:
- Prosody: `run_as_root`, `-F` (foreground), never `prosody --version`, Nagle off,
  accounts written directly as `internal_plain` files (no prosodyctl round trips).
- ejabberd: runs as the `ejabberd` user through `ejabberdctl foreground` (we stay its parent, so
  the whole process group can be signalled), its own node name, `ERL_DIST_PORT` (no epmd),
  HOME in its spool (private Erlang cookie), directory tree traversable by `ejabberd`.
"""

from __future__ import annotations

import os
import tempfile

from world_base import (
    DEFAULT_SECRET, HOST, USERS, Server, ServerError, free_ports, port_open, xmpp_stream_ready,
)
from world_ejabberd import Ejabberd
from world_prosody import Prosody

__all__ = [
    "DEFAULT_SECRET", "HOST", "USERS", "SERVERS", "Server", "ServerError", "Prosody", "Ejabberd",
    "free_ports", "port_open", "xmpp_stream_ready", "make_server",
]

SERVERS = {"prosody": Prosody, "ejabberd": Ejabberd}


def make_server(kind: str, dir: str | None = None, **kw) -> Server:
    """Creates (does not start) a server of `kind` in `dir`.

    Without `dir`, a fresh temporary directory is used and removed again by close() (also at exit)
    unless FERRY_KEEP_WORLD is set in the environment.
    """
    if kind not in SERVERS:
        raise ValueError(f"unknown server kind {kind!r} (expected one of {sorted(SERVERS)})")
    if dir is None:
        dir = tempfile.mkdtemp(prefix=f"ferry-{kind}-")
        os.chmod(dir, 0o755)  # ejabberd runs as its own user
        kw["remove_dir"] = True
    return SERVERS[kind](dir=os.path.abspath(dir), **kw)
