"""Two dispatcher processes share one outbox; one is SIGKILLed in the middle of the run.

Each process is `ferry_outbox_worker CONNINFO OWNER OUTPUT_FILE LEASE_MS BATCH ACK_DELAY_MS`
(tests/support/outbox_worker.cpp): a Dispatcher whose log connector appends one JSON line per delivery to
OUTPUT_FILE, then waits ACK_DELAY_MS before the delivery counts as done. Binaries: $FERRY_OUTBOX_WORKER
(default build/ferry_outbox_worker) and $FERRY_BIN (default build/ferry, for `ferry db migrate`).

Promises checked: every message is delivered at least once; a message delivered twice carries the same
idempotency key both times; the only duplicates are rows the killed worker held a lease on, delivered again by
the survivor after the kill (never while both lived). The number of duplicates is printed (pytest -s or -rP).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import time

import pytest

from pg_world import pg_world  # noqa: F401  (module-scoped fixture)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKER = os.environ.get("FERRY_OUTBOX_WORKER", os.path.join(REPO, "build", "ferry_outbox_worker"))
FERRY = os.environ.get("FERRY_BIN", os.path.join(REPO, "build", "ferry"))

MESSAGES = 10_000
CONVERSATIONS = 200  # more than one batch holds, so both workers always find free conversations
LEASE_MS = 2000  # the killed worker's rows are free again this long after its last claim
BATCH = 50       # rows per claim: small, so the run lasts long enough to be interrupted
ACK_DELAY_MS = 10  # written but not yet recorded for this long: where the SIGKILL lands
RESET_SQL = ";".join(f"DELETE FROM {t}" for t in ("outbox", "dead_letters", "message_map", "inbound_seen")) + \
    ";DELETE FROM connectors WHERE name = 'outbox-procs'"


def require_binary(path: str, what: str) -> None:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{what} not found at {path}: build it (ninja ferry ferry_outbox_worker) or set the variable")


def wait_for(condition, timeout: float, what: str, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def line_count(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def read_deliveries(path: str) -> list[dict]:
    """The complete lines of a worker's output. A worker killed with SIGKILL may leave its last line half
    written: that delivery was never recorded, so the survivor delivers it again (same key)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def delivered_at(line: dict) -> float:
    return datetime.datetime.fromisoformat(line["delivered_at"].replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def migrated_db(pg_world):  # noqa: F811
    require_binary(FERRY, "ferry ($FERRY_BIN)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env["FERRY_DATABASE_URL"] = pg_world.url
    done = subprocess.run([FERRY, "db", "migrate"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, f"ferry db migrate failed: {done.stderr}"
    return pg_world


class Worker:
    def __init__(self, directory: str, url: str, owner: str) -> None:
        self.owner = owner
        self.output = os.path.join(directory, f"{owner}.jsonl")
        self.log = os.path.join(directory, f"{owner}.stderr")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([WORKER, url, owner, self.output, str(LEASE_MS), str(BATCH),
                                             str(ACK_DELAY_MS)],
                                            stdout=subprocess.PIPE, stderr=log, text=True)
        ready = self.process.stdout.readline().strip()
        assert ready == "ready", f"{owner} did not start: {ready!r}\n{self.log_text()}"

    def log_text(self) -> str:
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"{self.owner} did not stop within {timeout} s after signal {sig}")


def test_every_message_survives_a_killed_worker_and_duplicates_keep_their_key(migrated_db, tmp_path):
    db = migrated_db
    require_binary(WORKER, "ferry_outbox_worker ($FERRY_OUTBOX_WORKER)")
    db.sql(RESET_SQL)
    db.sql("INSERT INTO connectors (name, kind) VALUES ('outbox-procs', 'log')")
    db.sql(f"""
        INSERT INTO outbox (connector_id, conversation, destination, payload)
        SELECT c.id, 'conv-' || (g % {CONVERSATIONS}), 'dest-' || (g % {CONVERSATIONS}),
               jsonb_build_object('kind', 'message', 'source', 'test', 'text', 'msg-' || g)
        FROM connectors c, generate_series(0, {MESSAGES - 1}) g
        WHERE c.name = 'outbox-procs'
        ORDER BY g""")
    key_of = dict(line.split("|") for line in db.sql("SELECT payload->>'text', idempotency_key FROM outbox")
                  .splitlines())
    assert len(key_of) == MESSAGES

    workers = []
    try:
        victim = Worker(str(tmp_path), db.url, "worker-victim")
        workers.append(victim)
        survivor = Worker(str(tmp_path), db.url, "worker-survivor")
        workers.append(survivor)

        # Mid-run: both have delivered, plenty is left.
        wait_for(lambda: line_count(victim.output) >= 1500 and line_count(survivor.output) >= 1, 60,
                 "both workers delivering")
        # Strike just after the victim wrote deliveries: it then holds leases on rows delivered but not yet
        # recorded (for ACK_DELAY_MS at least), the case that makes duplicates.
        size = os.path.getsize(victim.output)
        deadline = time.monotonic() + 10
        while os.path.getsize(victim.output) == size and time.monotonic() < deadline:
            pass
        killed_at = time.time()
        victim.stop(signal.SIGKILL)
        remaining = int(db.sql("SELECT count(*) FROM outbox"))
        held = set(db.sql("SELECT idempotency_key FROM outbox WHERE lease_owner = 'worker-victim'").split())
        assert remaining > 0, "the killed worker was meant to die mid-run, but the outbox was already empty"

        wait_for(lambda: db.sql("SELECT count(*) FROM outbox") == "0", 60, "the outbox to drain", interval=0.1)
        assert survivor.stop() == 0, f"the survivor did not stop cleanly:\n{survivor.log_text()}"
    finally:
        for w in workers:
            w.stop(signal.SIGKILL)

    victim_lines = read_deliveries(victim.output)
    survivor_lines = read_deliveries(survivor.output)
    for line in victim_lines + survivor_lines:
        assert line["idempotency_key"] == key_of[line["message"]["text"]], \
            f"{line['message']['text']} delivered under a key that is not its own"
    delivered = {line["message"]["text"] for line in victim_lines + survivor_lines}
    missing = set(key_of) - delivered
    assert not missing, f"{len(missing)} message(s) never delivered, e.g. {sorted(missing)[:5]}"

    victim_keys = [line["idempotency_key"] for line in victim_lines]
    survivor_keys = [line["idempotency_key"] for line in survivor_lines]
    assert len(set(victim_keys)) == len(victim_keys), "the killed worker delivered a row twice"
    assert len(set(survivor_keys)) == len(survivor_keys), "the survivor delivered a row twice"
    duplicates = set(victim_keys) & set(survivor_keys)
    for line in survivor_lines:
        if line["idempotency_key"] in duplicates:
            assert delivered_at(line) + 0.001 >= killed_at, \
                f"{line['message']['text']} delivered by both workers while both lived"
    assert duplicates <= held, "a duplicate that the killed worker held no lease on"
    assert duplicates, "the kill was meant to interrupt a batch already written but not yet recorded"
    assert db.sql("SELECT count(*) FROM dead_letters") == "0"
    print(f"\noutbox processes: {MESSAGES} messages, killed worker delivered {len(victim_lines)}, survivor "
          f"{len(survivor_lines)}; {len(held)} row(s) leased by the killed worker, {len(duplicates)} duplicate(s) "
          f"delivered again under the same key; {remaining} row(s) left at the kill")
    db.sql(RESET_SQL)
