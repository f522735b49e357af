"""XMPP → mapping → durable outbox → connector, end to end: a real XMPP server (Prosody and ejabberd), a real
PostgreSQL, Ferry in between, and the `log` connector writing each delivered message as a JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest

from ferry_process import FERRY_BIN
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from xmpp_client import Client, run, stanza_error


def ferry_cli(pg, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FERRY_DATABASE_URL": pg.url}
    return subprocess.run([FERRY_BIN, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def bridge(pg_world, world, start_ferry, tmp_path):  # noqa: F811
    """A migrated store with one log connector and alice's mapping to its remote address `ops`."""
    assert ferry_cli(pg_world, "db", "migrate").returncode == 0
    pg_world.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
                 "DELETE FROM mappings; DELETE FROM connectors;")
    out = tmp_path / "ops.jsonl"
    added = ferry_cli(pg_world, "connector", "add", "opslog", "--kind", "log", "--setting", f"path={out}")
    assert added.returncode == 0, added.stderr
    mapped = ferry_cli(pg_world, "mapping", "add", "--xmpp", world.jid("alice"), "--connector", "opslog",
                       "--remote", "ops", "--direction", "out")
    assert mapped.returncode == 0, mapped.stderr
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    return ferry, out


def delivered_lines(path, want: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= want or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def test_messages_cross_in_order_with_receipts_after_commit(bridge, world):
    ferry, out = bridge
    target = f"ops%opslog@{world.component_domain}"

    async def scenario():
        async with Client(world, "alice") as alice:
            for i in range(20):
                await alice.send_message(target, f"message {i} <&>", id=f"m{i}", receipt=True)
            receipts = [await alice.next_receipt(timeout=10) for _ in range(20)]
            assert sorted(receipts) == sorted(f"m{i}" for i in range(20))

    run(scenario())
    lines = delivered_lines(out, 20)
    assert [line["message"]["text"] for line in lines] == [f"message {i} <&>" for i in range(20)]
    first = lines[0]
    assert first["destination"] == "ops"
    assert first["message"]["source"] == "xmpp"
    assert first["message"]["from"].startswith(world.jid("alice") + "/")
    assert first["message"]["source_id"] == "m0"
    assert len({line["idempotency_key"] for line in lines}) == 20


def test_unmapped_address_and_unmapped_sender_get_service_unavailable(bridge, world):
    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            await alice.send_message(f"elsewhere%opslog@{world.component_domain}", "hi")
            assert stanza_error(await alice.next_message_error()) == ("cancel", "service-unavailable")
            # bob has no mapping to ops: the same address is unknown for him.
            await bob.send_message(f"ops%opslog@{world.component_domain}", "hi")
            assert stanza_error(await bob.next_message_error()) == ("cancel", "service-unavailable")

    run(scenario())


def test_mapping_added_while_running_is_live_within_a_second(bridge, world, pg_world):  # noqa: F811
    ferry, out = bridge
    added = ferry_cli(pg_world, "mapping", "add", "--xmpp", world.jid("bob"), "--connector", "opslog",
                      "--remote", "ops")
    assert added.returncode == 0, added.stderr
    time.sleep(1.0)

    async def scenario():
        async with Client(world, "bob") as bob:
            await bob.send_message(f"ops%opslog@{world.component_domain}", "bob here", id="b1", receipt=True)
            assert await bob.next_receipt(timeout=5) == "b1"

    run(scenario())
    assert [line["message"]["text"] for line in delivered_lines(out, 1)] == ["bob here"]


def test_messages_sent_while_postgresql_restarts_are_not_lost(bridge, world, pg_world):  # noqa: F811
    ferry, out = bridge
    target = f"ops%opslog@{world.component_domain}"

    async def scenario():
        async with Client(world, "alice") as alice:
            for i in range(5):
                await alice.send_message(target, f"before {i}", id=f"a{i}", receipt=True)
            for _ in range(5):
                await alice.next_receipt(timeout=10)
            await asyncio.to_thread(pg_world.stop)
            for i in range(5):
                await alice.send_message(target, f"during {i}", id=f"d{i}", receipt=True)
            await asyncio.sleep(1.0)
            # Not acknowledged while nothing could be committed.
            assert alice.receipts.empty()
            await asyncio.to_thread(pg_world.start)
            got = [await alice.next_receipt(timeout=30) for _ in range(5)]
            assert sorted(got) == [f"d{i}" for i in range(5)]

    run(scenario(), timeout=90)
    texts = [line["message"]["text"] for line in delivered_lines(out, 10, timeout=30)]
    assert texts == [f"before {i}" for i in range(5)] + [f"during {i}" for i in range(5)]


def test_unmigrated_database_is_refused_unless_migrate(world, start_ferry, pg_world):  # noqa: F811
    pg_world.sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO ferry;")
    refused = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    assert refused.wait_exit(15) == 5
    assert "ferry db migrate" in refused.log()
    migrating = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url}, extra_args=("--migrate",))
    migrating.wait_for_log(r"schema: applied migration 001_initial", timeout=15)
    migrating.wait_for_log(r"mapping store: loaded", timeout=15)
    assert ferry_cli(pg_world, "db", "status").returncode == 0
