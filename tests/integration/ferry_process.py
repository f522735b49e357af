"""Runs the Ferry binary against a test-world server and reads its log.

The binary is `$FERRY_BIN` (default build/ferry in this checkout). A missing binary is a test failure,
never a skip. stderr (the log) goes to a file so tests can wait for and grep log lines.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

from world import Server

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FERRY_BIN = os.environ.get("FERRY_BIN", os.path.join(REPO, "build", "ferry"))

# Ferry's log contract the tests rely on (see the component's logging):
#   "component connected to HOST:PORT as DOMAIN" after every successful handshake,
#   "keepalive timeout" when the server stops answering keepalives.
KEEPALIVE_TIMEOUT_RE = re.compile(r"keepalive timeout", re.IGNORECASE)


def connected_re(server: Server) -> re.Pattern:
    """The log line Ferry writes after each successful handshake with `server`."""
    return re.compile(
        r"component connected to %s:%d as %s\b"
        % (re.escape(server.host), server.component_port, re.escape(server.component_domain))
    )


def require_binary(path: str = FERRY_BIN) -> str:
    """Fails (never skips) when the binary under test is missing."""
    assert os.path.isfile(path) and os.access(path, os.X_OK), (
        f"Ferry binary {path} is missing or not executable (build it, or set FERRY_BIN)"
    )
    return path


def snapshot_binary(dest_dir: str, path: str = FERRY_BIN) -> str:
    """Copies the binary under test to `dest_dir`, so a rebuild during the run cannot change it."""
    require_binary(path)
    dest = os.path.join(dest_dir, os.path.basename(path))
    shutil.copy2(path, dest)
    return dest


def ferry_argv(server: Server, secret: str | None = None, extra_args: tuple[str, ...] = (),
               binary: str = FERRY_BIN) -> list[str]:
    """Command line that points Ferry's component at `server`, with fast reconnect and keepalive."""
    return [
        binary, "run",
        "--component.domain", server.component_domain,
        "--component.host", server.host,
        "--component.port", str(server.component_port),
        "--component.secret", server.secret if secret is None else secret,
        "--component.reconnect_min_delay", "0.2",
        "--component.reconnect_max_delay", "1",
        "--component.keepalive_interval", "1",
        "--component.keepalive_timeout", "1",
        "--log.level", "debug",
        *extra_args,
    ]


class Ferry:
    """One Ferry process. Not started by the constructor; `stop()` or `kill()` ends it."""

    def __init__(self, server: Server, workdir: str, *, secret: str | None = None,
                 extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 name: str = "ferry", binary: str = FERRY_BIN) -> None:
        self.server = server
        self.binary = binary
        self.argv = ferry_argv(server, secret, extra_args, binary)
        self.env = {**os.environ, **(env or {})}
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Ferry":
        require_binary(self.binary)
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=self.env, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        """Everything Ferry wrote to stderr so far."""
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "".join(self.log().splitlines(keepends=True)[-lines:])

    def count(self, pattern: re.Pattern | str) -> int:
        """How many log lines match `pattern`."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        return sum(1 for line in self.log().splitlines() if rx.search(line))

    def wait_for_log(self, pattern: re.Pattern | str, timeout: float, *, more_than: int = 0) -> str:
        """Waits until more than `more_than` log lines match `pattern`; returns the newest one.

        Fails (AssertionError with the log tail) on timeout or if Ferry exits meanwhile.
        """
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            matches = [line for line in self.log().splitlines() if rx.search(line)]
            if len(matches) > more_than:
                return matches[-1]
            exited = self.proc is not None and self.proc.poll() is not None
            if exited or time.monotonic() >= deadline:
                why = f"exited with {self.proc.returncode}" if exited else f"not within {timeout} s"
                raise AssertionError(
                    f"no new Ferry log line matching {rx.pattern!r} ({why}); "
                    f"{len(matches)} so far, wanted more than {more_than}.\n"
                    f"--- ferry stderr (tail) ---\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def wait_connected(self, timeout: float = 10.0, *, more_than: int = 0) -> str:
        """Waits for the (more_than+1)-th 'component connected' line."""
        return self.wait_for_log(connected_re(self.server), timeout, more_than=more_than)

    def connected_count(self) -> int:
        return self.count(connected_re(self.server))

    def wait_exit(self, timeout: float) -> int | None:
        """Exit code, or None if Ferry still runs after `timeout` seconds."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM; returns the exit code, or None (and kills it) if it is still running after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
