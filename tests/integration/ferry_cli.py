"""Runs the `ferry` command line (connector, mapping, outbox, dead-letters, db …) against a database.

    cli = Cli(ferry_binary, pg_world.url)
    cli("db", "migrate")                   # the CompletedProcess, whatever the exit code
    cli.ok("connector", "list")            # stdout; exit code 0 and nothing on stderr, or the test fails
    cli.json("connector", "list")          # the same with --json, parsed (one line of output)
    cli.fails(2, "mapping", "show", "x")   # stderr; exit code 2 and nothing on stdout, or the test fails
"""

from __future__ import annotations

import json
import os
import subprocess


class Cli:
    """Runs the ferry binary with FERRY_DATABASE_URL set and no other FERRY_* variable."""

    def __init__(self, binary: str, url: str) -> None:
        self.binary = binary
        self.url = url

    def __call__(self, *args: str, url: str | None = None, stdin: str = "",
                 extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        env["FERRY_DATABASE_URL"] = self.url if url is None else url
        env.update(extra_env or {})
        return subprocess.run([self.binary, *args], capture_output=True, text=True, env=env, timeout=30,
                              input=stdin)

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"ferry {' '.join(args)} → {done.returncode}: {done.stderr}"
        assert done.stderr == ""
        return done.stdout

    def json(self, *args: str):
        out = self.ok(*args, "--json")
        assert out.endswith("\n") and out.count("\n") == 1, "--json prints one line"
        return json.loads(out)

    def fails(self, code: int, *args: str) -> str:
        done = self(*args)
        assert done.returncode == code, f"ferry {' '.join(args)} → {done.returncode}: {done.stderr}"
        assert done.stdout == ""
        return done.stderr
