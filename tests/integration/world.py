"""Private real XMPP servers for Ferry's integration tests, demo and benchmarks.

A `Prosody` or `Ejabberd` instance runs as a child process group under a directory of its own,
listens only on 127.0.0.1 on free ports, serves one XMPP external component (XEP-0114) with a
known secret and has the users alice and bob. It can be killed hard and started again on the
same ports and data, paused (SIGSTOP) and resumed (SIGCONT). Everything started here is killed
at interpreter exit as a last resort; `close()` (or the context manager) is the normal way.

Traps handled here (see /work/shared/notes/test-world.md):
- Prosody: `run_as_root`, `-F` (foreground), never `prosody --version`, Nagle off,
  accounts written directly as `internal_plain` files (no prosodyctl round trips).
- ejabberd: runs as the `ejabberd` user through `ejabberdctl foreground` (we stay its parent, so
  the whole process group can be signalled), its own node name, `ERL_DIST_PORT` (no epmd),
  HOME in its spool (private Erlang cookie), directory tree traversable by `ejabberd`.
"""

from __future__ import annotations

import atexit
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

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

    def password(self, user: str) -> str:
        return USERS[user]

    def start(self, timeout: float = 60.0) -> None:
        """Starts the server (first time: writes config and users) and waits until it serves."""
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError(f"{self.kind} already running")
        os.makedirs(self.dir, exist_ok=True)
        if not (self.c2s_port and self.component_port):
            self._choose_ports()
        first = not os.path.exists(self._marker())
        if first:
            self._write_config()
        self._spawn()
        _live.add(self)
        try:
            self._wait_ready(timeout, first)
            if first:
                self._add_users()
                with open(self._marker(), "w") as f:
                    f.write("configured\n")
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

    def _marker(self) -> str:
        return os.path.join(self.dir, ".configured")

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


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(eq=False)
class Prosody(Server):
    """Prosody 0.12, VirtualHost `localhost`, Component `ferry.localhost`."""

    def __post_init__(self) -> None:
        self.kind = "prosody"
        self.domain = "localhost"
        self.component_domain = "ferry.localhost"

    @property
    def config_path(self) -> str:
        return os.path.join(self.dir, "prosody.cfg.lua")

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "prosody.log")

    def _write_config(self) -> None:
        d = self.dir
        cfg = f"""-- Generated by Ferry's test world (tests/integration/world.py).
run_as_root = true
pidfile = {_lua_str(os.path.join(d, "prosody.pid"))}
data_path = {_lua_str(os.path.join(d, "data"))}
certificates = {_lua_str(os.path.join(d, "certs"))}
log = {{
    {{ levels = {{ min = "info" }}, to = "file", filename = {_lua_str(self.log_path)} }};
}}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
legacy_ssl_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "time"; "version"; "posix" }}
modules_disabled = {{ "tls"; "s2s" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
-- With Nagle on, every round trip costs ~45 ms instead of ~2 ms.
network_settings = {{ nagle = false }}

VirtualHost "{self.domain}"

Component "{self.component_domain}"
    component_secret = {_lua_str(self.secret)}
"""
        with open(self.config_path, "w") as f:
            f.write(cfg)
        # internal_plain accounts are plain Lua files: written directly, no prosodyctl round trip.
        os.makedirs(os.path.join(d, "certs"), exist_ok=True)
        accounts = os.path.join(d, "data", self.domain.replace(".", "%2e"), "accounts")
        os.makedirs(accounts, exist_ok=True)
        for user, pw in USERS.items():
            with open(os.path.join(accounts, f"{user}.dat"), "w") as f:
                f.write(f'return {{\n\t["password"] = {_lua_str(pw)};\n}};\n')

    def _spawn(self) -> None:
        self.proc = self._popen(["prosody", "-F", "--config", self.config_path], cwd=self.dir)


EJABBERD_USER = "ejabberd"


def _check_traversable(path: str, uid: int, gid: int) -> None:
    """Raises if a user (uid, gid) could not reach `path` (every parent needs x for it)."""
    p = os.path.abspath(path)
    parents = []
    while True:
        parents.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for p in parents[1:]:
        st = os.stat(p)
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            raise ServerError(f"{p} is not traversable by user {EJABBERD_USER}: ejabberd could not reach {path}")


@dataclass(eq=False)
class Ejabberd(Server):
    """ejabberd 23.01, host `ej.localhost`, component `ferry.ej.localhost` (ejabberd_service)."""

    dist_port: int = 0

    def __post_init__(self) -> None:
        self.kind = "ejabberd"
        self.domain = "ej.localhost"
        self.component_domain = "ferry.ej.localhost"
        pw = pwd.getpwnam(EJABBERD_USER)
        self._uid, self._gid = pw.pw_uid, pw.pw_gid

    @property
    def node(self) -> str:
        return f"ferryej{self.dist_port}@localhost"

    @property
    def config_path(self) -> str:
        return os.path.join(self.dir, "ejabberd.yml")

    @property
    def ctl_config_path(self) -> str:
        return os.path.join(self.dir, "ejabberdctl.cfg")

    @property
    def spool(self) -> str:
        return os.path.join(self.dir, "spool")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.dir, "log")

    @property
    def log_path(self) -> str:
        return os.path.join(self.log_dir, "ejabberd.log")

    def info(self) -> dict[str, str]:
        d = super().info()
        d["ERLANG_NODE"] = self.node
        d["ERL_DIST_PORT"] = str(self.dist_port)
        return d

    def _choose_ports(self) -> None:
        self.c2s_port, self.component_port, self.dist_port = free_ports(3)

    def _write_config(self) -> None:
        if not self.dist_port:
            (self.dist_port,) = free_ports(1)
        _check_traversable(self.dir, self._uid, self._gid)
        os.makedirs(self.spool, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        yml = f"""# Generated by Ferry's test world (tests/integration/world.py).
hosts:
  - "{self.domain}"
loglevel: info
log_rotate_count: 0
hide_sensitive_log_data: false
auth_method: internal
auth_password_format: plain
listen:
  -
    port: {self.c2s_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    starttls_required: false
    max_stanza_size: 1048576
    access: c2s
  -
    port: {self.component_port}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      "{self.component_domain}":
        password: "{self.secret}"
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  max_user_sessions: 100
  c2s_shaper: none
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
  mod_time: {{}}
  mod_version: {{}}
"""
        with open(self.config_path, "w") as f:
            f.write(yml)
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write('{lookup, ["file", "native"]}.\n{host, {127,0,0,1}, ["localhost"]}.\n')
        with open(self.ctl_config_path, "w") as f:
            f.write(
                f"# Generated by Ferry's test world.\n"
                f"ERLANG_NODE={self.node}\n"
                f"ERL_DIST_PORT={self.dist_port}\n"
                f"EJABBERD_BYPASS_WARNINGS=true\n"
                # inet_dist_use_interface here rather than INET_DIST_INTERFACE: the latter costs an
                # extra Erlang VM start on every ejabberdctl call.
                f'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {{127,0,0,1}}"\n'
            )
        for root, dirs, files in os.walk(self.dir):
            os.chown(root, self._uid, self._gid)
            for name in files:
                os.chown(os.path.join(root, name), self._uid, self._gid)

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.spool,  # the Erlang cookie lives here, private to this node
            "LANG": "C.UTF-8",
            "ERL_DIST_PORT": str(self.dist_port),
        }
        return env

    def _ctl_argv(self, *args: str) -> list[str]:
        return [
            "ejabberdctl",
            "--config-dir", self.dir,
            "--config", self.config_path,
            "--ctl-config", self.ctl_config_path,
            "--logs", self.log_dir,
            "--spool", self.spool,
            *args,
        ]

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Runs one ejabberdctl command against this node (as the ejabberd user)."""
        return subprocess.run(
            self._ctl_argv(*args),
            user=self._uid,
            group=self._gid,
            extra_groups=[],
            env=self._env(),
            cwd=self.spool,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _spawn(self) -> None:
        self.proc = self._popen(
            self._ctl_argv("foreground"),
            user=self._uid,
            group=self._gid,
            extra_groups=[],
            env=self._env(),
            cwd=self.spool,
        )

    def _add_users(self) -> None:
        # One Erlang RPC instead of an `ejabberdctl register` per user (each costs a VM start),
        # and it syncs: a fresh registration lives in dets' write cache for ~3 s, so a kill -9 soon
        # after start-up (the restart tests do that) lost the users without it.
        users = ",".join(f'{{<<"{u}">>,<<"{pw}">>}}' for u, pw in USERS.items())
        expr = (
            f"N = '{self.node}', "
            f"Rs = [rpc:call(N, ejabberd_auth, try_register, [U, <<\"{self.domain}\">>, P]) "
            f"|| {{U, P}} <- [{users}]], "
            "Ok = lists:all(fun(ok) -> true; ({ok, _}) -> true; ({error, exists}) -> true; (_) -> false end, Rs), "
            "S = [rpc:call(N, mnesia, sync_log, []), rpc:call(N, mnesia, dump_log, []), "
            "rpc:call(N, dets, sync, [passwd])], "
            "io:format(\"~p ~p~n\", [Rs, S]), "
            "halt(case Ok of true -> 0; false -> 1 end)."
        )
        argv = [
            "erl", "-sname", f"ferryctl{os.getpid()}{self.dist_port}@localhost", "-hidden", "-noshell",
            "-noinput", "-erl_epmd_port", str(self.dist_port), "-start_epmd", "false",
            "-dist_listen", "false", "-eval", expr,
        ]
        r = subprocess.run(argv, user=self._uid, group=self._gid, extra_groups=[], env=self._env(),
                           cwd=self.spool, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise ServerError(f"registering users on {self.node} failed ({r.returncode}): {r.stdout}{r.stderr}")


SERVERS = {"prosody": Prosody, "ejabberd": Ejabberd}


def make_server(kind: str, dir: str | None = None, **kw) -> Server:
    """Creates (does not start) a server of `kind` in `dir` (a fresh temp dir if None)."""
    if kind not in SERVERS:
        raise ValueError(f"unknown server kind {kind!r} (expected one of {sorted(SERVERS)})")
    if dir is None:
        dir = tempfile.mkdtemp(prefix=f"ferry-{kind}-")
        os.chmod(dir, 0o755)
    return SERVERS[kind](dir=os.path.abspath(dir), **kw)


def _cleanup_all() -> None:
    for s in list(_live):
        try:
            s.close()
        except Exception:
            pass


atexit.register(_cleanup_all)
