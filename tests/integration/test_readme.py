"""The demo and the README, run as a new user runs them.

`scripts/demo.sh` starts its own private PostgreSQL, Prosody and fake Slack and shows messages crossing; then
every README block marked `<!-- runnable next to the demo: NAME -->` runs in bash with the values the demo
prints (its `export` lines, `ferry` on PATH), and what the block shows is checked. A block that stops working,
or a marked block without a check here, fails the suite: the README cannot drift from what Ferry does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = re.compile(r"<!-- runnable next to the demo: ([\w-]+) -->\n```sh\n(.*?)```", re.S)
DEMO_READY = "Ctrl-C stops everything"
DEMO_STOPPED = "demo: stopped"


def readme_blocks() -> dict[str, str]:
    return {name: body for name, body in RUNNABLE.findall((ROOT / "README.md").read_text())}


class Demo:
    def __init__(self, ferry_binary: str):
        self.still_running = ""
        self.binary = ferry_binary
        env = dict(os.environ, FERRY_BIN=ferry_binary)
        self.proc = subprocess.Popen(["bash", "scripts/demo.sh", "--no-install"], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True,
                                     # As from a terminal: a shell started with SIGINT ignored (a background
                                     # job of a script) could not trap Ctrl-C at all.
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.proc.poll() is not None:
                self.reader.join(2)
                return text in self.output
            time.sleep(0.2)
        return False

    def exports(self) -> dict[str, str]:
        """The variables of the `export` line the demo prints for trying the README next to it."""
        m = re.search(r"^\s*export (FERRY_DATABASE_URL=.*)$", self.output, re.M)
        assert m, "the demo prints the export line for the README's examples"
        return {k: v.strip("'") for k, v in re.findall(r"(\w+)=('[^']*'|\S+)", m.group(1))}

    def interrupt(self, timeout: float = 30) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the script
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # What is still running, for the failure message.
            self.still_running = subprocess.run(["ps", "-o", "pid,ppid,etime,stat,args", "--sid", str(self.proc.pid)],
                                                capture_output=True, text=True).stdout
            return None
        finally:
            self.reader.join(5)

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


@pytest.fixture(scope="module")
def demo(ferry_binary):
    d = Demo(ferry_binary)
    try:
        assert d.wait_for(DEMO_READY, 240), "the demo did not come up:\n" + d.output[-4000:]
        yield d
    finally:
        if d.proc.poll() is None:
            d.interrupt()
        d.kill()


def run_block(demo: Demo, script: str, path_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, **demo.exports())
    env["PATH"] = f"{path_dir}:{env['PATH']}"
    proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        try:  # whatever the block left in the background
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def check_store(out: str):
    lines = [entry for entry in json_lines(out) if "message" in entry]
    assert any(entry["message"]["text"] == "hello from bob" and entry["message"]["from"].startswith("bob@localhost")
               for entry in lines), out


def check_alerts(out: str):
    assert '{"messages":1,"status":"accepted"}' in out, out
    m = re.search(r"--- chat message from alerts2@ferry\.localhost:\n(.*?)\n\n", out, re.S)
    assert m, out
    assert m.group(1).startswith("[FIRING:1] DiskFull"), m.group(1)
    assert "Disk 97% full on db-1" in m.group(1)


def check_webhook(out: str):
    assert '{"messages":1,"status":"accepted"}' in out, out
    assert "--- chat message from ci-bot%ci@ferry.localhost:\nbuild #42 passed\n" in out, out


def check_slack(out: str):
    assert "--- groupchat message from try@conference.localhost/spengler (slack2):\nhi from Slack\n" in out, out
    assert "#C0LAN2Q65 <bob> hello Slack, from bob" in out, out


CHECKS = {"store": check_store, "alerts": check_alerts, "webhook": check_webhook, "slack": check_slack}


def test_every_runnable_block_of_the_readme_has_a_check():
    assert list(readme_blocks()) == list(CHECKS)


def test_demo_shows_a_message_crossing_each_way(demo):
    out = demo.output
    assert 'identity : gateway/generic "Ferry"' in out, out
    assert re.search(r'^\s+\{.*"text":"hello ops, the demo says hi"', out, re.M), out
    assert "--- chat message from alerts@ferry.localhost:\n[FIRING:1] DiskFull (critical)\n" in out, out
    assert re.search(r"fake Slack: #C0LAN2Q65 <alice> hello Slack, from XMPP", out), out
    assert "--- groupchat message from demo@conference.localhost/spengler (slack):\nhello XMPP, from Slack\n" in out, out
    assert "demo@conference.localhost" in out and "join" in out


@pytest.mark.parametrize("name", list(CHECKS))
def test_readme_block_runs_next_to_the_demo(demo, name, tmp_path):
    blocks = readme_blocks()
    assert name in blocks, f"README.md has no block marked 'runnable next to the demo: {name}'"
    (tmp_path / "ferry").symlink_to(demo.binary)  # `ferry` on PATH, as after `cmake --install`
    result = run_block(demo, blocks[name], tmp_path)
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    CHECKS[name](result.stdout)


def test_demo_stops_on_ctrl_c_and_says_so(demo):
    assert demo.interrupt() == 0, demo.output[-2000:] + "\n--- still running:\n" + demo.still_running
    assert DEMO_STOPPED in demo.output, demo.output[-2000:]
