"""The common part of the private test servers: ports, readiness, process-group control.

See world.py for the public entry points and the traps each server needs.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import ClassVar

HOST = "127.0.0.1"
USERS = {"alice": "alicepass", "bob": "bobpass"}
DEFAULT_SECRET = "ferry-test-secret"

_live: set["Server"] = set()


def free_ports(count: int) -> list[int]:
    """Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, host: str = HOST) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def xmpp_stream_ready(port: int, domain: str, timeout: float = 2.0) -> bool:
    """True if a c2s listener on `port` answers a stream header for `domain` with stream features."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(
                (
                    "<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
                    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" % domain
                ).encode()
            )
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
                if b"features" in data and b"mechanisms" in data:
                    return True
                if b"stream:error" in data or b"<error" in data:
                    return False
    except OSError:
        return False
    return False


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return f"(no {path})"


class ServerError(RuntimeError):
    pass


@dataclass(eq=False)
class Server:
    """One private XMPP server. Subclasses write the configuration and know how to start it."""

    dir: str
    secret: str = DEFAULT_SECRET
    c2s_port: int = 0
    component_port: int = 0
    kind: str = field(default="", init=False)
    domain: str = field(default="", init=False)
    component_domain: str = field(default="", init=False)
    proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    paused: bool = field(default=False, init=False)
    # A temporary directory of our own: removed by close() unless FERRY_KEEP_WORLD is set.
    remove_dir: bool = field(default=False, repr=False)

    # -- public API -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def users(self) -> dict[str, str]:
        return dict(USERS)

    def jid(self, user: str) -> str:
        """Bare JID of one of the test users."""
        return f"{user}@{self.domain}"

    @property
    def muc_domain(self) -> str:
        """The server's multi-user chat service (XEP-0045); rooms are made on first join."""
        return f"conference.{self.domain}"

    def password(self, user: str) -> str:
        return USERS[user]

    def start(self, timeout: float = 60.0) -> None:
        """Starts the server and waits until it serves.

        The first start in a directory picks free ports (unless given), writes the configuration
        and adds the users; later starts (a restart, or a new object on the same directory) reuse
        the ports, secret and data recorded there.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError(f"{self.kind} already running")
        os.makedirs(self.dir, exist_ok=True)
        first = not os.path.exists(self._state_path())
        if first:
            if not (self.c2s_port and self.component_port):
                self._choose_ports()
            self._write_config()
        else:
            self._load_state()
        self._spawn()
        _live.add(self)
        try:
            self._wait_ready(timeout, first)
            if first:
                self._add_users()
                self._save_state()
        except BaseException:
            self._kill_group()
            raise

    def kill(self) -> None:
        """Kills the whole process group with SIGKILL and waits until every member is gone."""
        self._kill_group()

    def restart(self, timeout: float = 60.0) -> None:
        """kill -9, then start again on the same ports and data."""
        self.kill()
        self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP the process group: connections stay open but nothing is answered."""
        self._signal_group(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT the process group."""
        self._signal_group(signal.SIGCONT)
        self.paused = False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stops the server for good (hard: the tests do not care about a clean shutdown)."""
        self._kill_group()
        _live.discard(self)
        if self.remove_dir and not os.environ.get("FERRY_KEEP_WORLD"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def info(self) -> dict[str, str]:
        """What a client or component needs to talk to this server, as KEY=VALUE material."""
        d = {
            "KIND": self.kind,
            "DIR": self.dir,
            "HOST": HOST,
            "DOMAIN": self.domain,
            "C2S_PORT": str(self.c2s_port),
            "COMPONENT_DOMAIN": self.component_domain,
            "COMPONENT_PORT": str(self.component_port),
            "COMPONENT_SECRET": self.secret,
            "MUC_DOMAIN": self.muc_domain,
            "PID": str(self.proc.pid if self.proc else ""),
            "LOG": self.log_path,
        }
        for user, pw in USERS.items():
            d[f"{user.upper()}_JID"] = self.jid(user)
            d[f"{user.upper()}_PASSWORD"] = pw
        return d

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) + _tail(self._console_path(), lines)

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- process handling -----------------------------------------------------------------------

    @property
    def log_path(self) -> str:
        raise NotImplementedError

    # Settings recorded in the directory once configured (ports and secret are in the config).
    _state_fields: ClassVar[tuple[str, ...]] = ("c2s_port", "component_port", "secret")

    def _state_path(self) -> str:
        return os.path.join(self.dir, "world-state.json")

    def _save_state(self) -> None:
        with open(self._state_path(), "w") as f:
            json.dump({"kind": self.kind, **{k: getattr(self, k) for k in self._state_fields}}, f)

    def _load_state(self) -> None:
        with open(self._state_path()) as f:
            state = json.load(f)
        if state.get("kind") != self.kind:
            raise ServerError(f"{self.dir} holds a {state.get('kind')} server, not {self.kind}")
        for k in self._state_fields:
            mine, theirs = getattr(self, k), state[k]
            if mine and mine != theirs and not (k == "secret" and mine == DEFAULT_SECRET):
                raise ServerError(f"{self.dir} is configured with {k}={theirs!r}, not {mine!r}: use a fresh directory")
            setattr(self, k, theirs)

    def _console_path(self) -> str:
        return os.path.join(self.dir, "console.log")

    def _choose_ports(self) -> None:
        self.c2s_port, self.component_port = free_ports(2)

    def _popen(self, argv: list[str], **kw) -> subprocess.Popen:
        console = open(self._console_path(), "ab")
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: signals reach every child
                **kw,
            )
        finally:
            console.close()

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            raise ServerError(f"{self.kind} not started")
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _group_alive(self) -> bool:
        if self.proc is None:
            return False
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def _kill_group(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.proc = None
        self.paused = False

    def _wait_ports(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.kind} exited with {self.proc.returncode} during start-up:\n{self.log_tail()}"
                )
            if port_open(self.c2s_port) and port_open(self.component_port) and \
                    xmpp_stream_ready(self.c2s_port, self.domain):
                return
            time.sleep(0.05)
        raise ServerError(f"{self.kind} not ready after {timeout} s:\n{self.log_tail()}")

    # -- per server ---------------------------------------------------------------------------

    def _write_config(self) -> None:
        raise NotImplementedError

    def _spawn(self) -> None:
        raise NotImplementedError

    def _wait_ready(self, timeout: float, first: bool) -> None:
        self._wait_ports(timeout)

    def _add_users(self) -> None:
        pass


def _cleanup_all() -> None:
    for s in list(_live):
        try:
            s.close()
        except Exception:
            pass


atexit.register(_cleanup_all)
