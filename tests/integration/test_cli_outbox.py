"""`ferry outbox …` and `ferry dead-letters …` against a private PostgreSQL: what a user reads (tables, summary
lines, --json) and the exit codes, that retry and purge never touch a row under a live lease, and that a dead
letter goes back to the outbox with its idempotency key in one transaction.

Exit codes: 0 success, 1 database trouble (unreachable, SQL error), 2 bad input (including unknown ids).
Rows are written with SQL, as the bridge would have left them.
"""

from __future__ import annotations

import re

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)

RESET_SQL = ";".join([f"DELETE FROM {t}" for t in ("mappings", "outbox", "dead_letters", "connectors")] + [
    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), 1, false)" for t in ("outbox", "dead_letters")])
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
KEY = "6f1c2a52-8d1e-4c53-9a57-0b7c1d1e2f30"


@pytest.fixture(scope="module")
def migrated(pg_world, ferry_binary):  # noqa: F811
    cli = Cli(ferry_binary, pg_world.url)
    done = cli("db", "migrate")
    assert done.returncode == 0, done.stderr
    return cli


@pytest.fixture
def cli(migrated, pg_world):  # noqa: F811
    """Connectors ops and mail, and an empty outbox and dead-letter table whose ids start at 1."""
    pg_world.sql(RESET_SQL)
    for name in ("ops", "mail"):
        migrated.ok("connector", "add", name, "--kind", "log", "--setting", f"path=/var/log/ferry/{name}.jsonl")
    return migrated


def literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def enqueue(pg_world, connector="ops", destination="alerts", attempts=0, due="now()", lease=None,  # noqa: F811
            error=None, created="now()", key=None) -> int:
    """Writes one outbox row; `due`, `created` and the lease's expiry are SQL expressions."""
    owner, until = lease if lease else (None, None)
    return int(pg_world.sql(
        "INSERT INTO outbox (idempotency_key, connector_id, conversation, destination, payload, attempts, "
        "next_attempt_at, lease_owner, lease_expires_at, last_error, created_at) "
        f"SELECT {literal(key) + '::uuid' if key else 'gen_random_uuid()'}, id, 'conv-' || name, "
        f"{literal(destination)}, '{{\"body\":\"hi\"}}', {attempts}, {due}, {literal(owner)}, {until or 'NULL'}, "
        f"{literal(error)}, {created} FROM connectors WHERE name = {literal(connector)} RETURNING id"))


def bury(pg_world, connector="ops", destination="alerts", reason="550 mailbox unavailable",  # noqa: F811
         key=None, attempts=7) -> int:
    """Writes one dead letter that failed an hour ago."""
    return int(pg_world.sql(
        "INSERT INTO dead_letters (idempotency_key, connector_id, conversation, destination, payload, attempts, "
        f"reason, enqueued_at, failed_at) SELECT {literal(key) + '::uuid' if key else 'gen_random_uuid()'}, id, "
        f"'conv-' || name, {literal(destination)}, '{{\"body\":\"lost\"}}', {attempts}, {literal(reason)}, "
        f"now() - interval '2 days', now() - interval '1 hour' FROM connectors WHERE name = {literal(connector)} "
        "RETURNING id"))


def table(text: str) -> list[list[str]]:
    """Splits a human table on its runs of two or more blanks, checking that columns are aligned."""
    lines = text.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    for line in lines[1:]:
        for s in starts[1:]:
            if s < len(line):
                assert line[s - 1] == " " and line[s] != " ", f"column not aligned at {s}:\n{text}"
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def test_help_lists_the_commands(migrated):
    out = migrated.ok("help")
    for words in ("outbox list", "outbox retry", "outbox purge", "dead-letters list", "dead-letters retry"):
        assert words in out


def test_outbox_list_shows_the_queue_and_its_summary(cli, pg_world):  # noqa: F811
    assert cli.ok("outbox", "list") == "the outbox is empty\n"
    assert cli.json("outbox", "list") == {"total": 0, "due": 0, "leased": 0, "messages": []}
    long_error = "451 4.3.0 temporary failure\nat the relay: " + "x" * 60
    enqueue(pg_world, attempts=2, error=long_error, created="now() - interval '2 hours'")
    enqueue(pg_world, due="now() + interval '1 hour'", error="überlastet", destination="bob@example.org")
    enqueue(pg_world, lease=("ferry@host-a:4242", "now() + interval '5 minutes'"))
    enqueue(pg_world, connector="mail", lease=("ferry@host-b:1", "now() - interval '1 minute'"))

    out = cli.ok("outbox", "list")
    rows = table(out.rsplit("\n", 2)[0])
    assert rows[0] == ["ID", "CONNECTOR", "CONVERSATION", "DESTINATION", "ATTEMPTS", "NEXT ATTEMPT (UTC)",
                       "LEASED BY", "LEASED UNTIL", "LAST ERROR", "AGE"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert rows[1][:5] == ["1", "ops", "conv-ops", "alerts", "2"] and re.fullmatch(ISO, rows[1][5])
    assert rows[1][6:8] == ["-", "-"] and rows[1][9] == "2h"
    assert rows[1][8] == "451 4.3.0 temporary failure at the rela…"  # 40 columns, on one line
    assert rows[2][3] == "bob@example.org" and rows[2][8] == "überlastet" and rows[2][9].endswith("s")
    assert rows[3][6] == "ferry@host-a:4242" and re.fullmatch(ISO, rows[3][7])
    assert rows[4][1] == "mail" and re.fullmatch(ISO + r" \(expired\)", rows[4][7])
    # An expired lease holds nothing: that row is due.
    assert out.endswith("\n4 queued, 2 due now, 1 leased\n")

    listed = cli.json("outbox", "list")
    assert (listed["total"], listed["due"], listed["leased"]) == (4, 2, 1)
    first, _, leased, expired = listed["messages"]
    assert first["last_error"] == long_error and first["attempts"] == 2 and first["age_seconds"] >= 7200
    assert first["lease_owner"] is None and first["leased"] is False
    assert re.fullmatch(r"[0-9a-f-]{36}", first["idempotency_key"]) and re.fullmatch(ISO, first["created_at"])
    assert leased["leased"] is True and leased["lease_owner"] == "ferry@host-a:4242"
    assert expired["leased"] is False and expired["lease_owner"] == "ferry@host-b:1"

    limited = cli.ok("outbox", "list", "--limit", "2")
    assert len(table(limited.rsplit("\n", 2)[0])) == 3
    assert limited.endswith("\n4 queued, 2 due now, 1 leased (showing the oldest 2; --limit N for more)\n")
    assert cli.json("outbox", "list", "--limit=0") == {"total": 4, "due": 2, "leased": 1, "messages": []}
    mail = cli.json("outbox", "list", "--connector", "mail")
    assert mail["total"] == 1 and [m["id"] for m in mail["messages"]] == [4]
    pg_world.sql("DELETE FROM outbox WHERE connector_id = (SELECT id FROM connectors WHERE name = 'mail')")
    assert cli.ok("outbox", "list", "--connector", "mail") == "no queued messages for this connector\n"


def due(pg_world, row: int) -> str:  # noqa: F811
    return pg_world.sql(f"SELECT next_attempt_at <= now() FROM outbox WHERE id = {row}")


def test_retry_makes_a_row_due(cli, pg_world):  # noqa: F811
    row = enqueue(pg_world, attempts=3, due="now() + interval '1 hour'", error="timeout")
    assert due(pg_world, row) == "f"
    assert cli.ok("outbox", "retry", str(row)) == "made 1 message(s) due now\n"
    assert due(pg_world, row) == "t"
    assert pg_world.sql(f"SELECT attempts, last_error FROM outbox WHERE id = {row}") == "3|timeout"
    assert cli.json("outbox", "list")["due"] == 1


def test_retry_leaves_leased_rows_alone(cli, pg_world):  # noqa: F811
    later = "now() + interval '1 hour'"
    free = [enqueue(pg_world, due=later), enqueue(pg_world, connector="mail", due=later)]
    leased = enqueue(pg_world, due=later, lease=("ferry@host-a:4242", "now() + interval '5 minutes'"))
    before = pg_world.sql(f"SELECT next_attempt_at, lease_owner, lease_expires_at FROM outbox WHERE id = {leased}")

    err = cli.fails(2, "outbox", "retry", str(leased))
    assert re.fullmatch(rf"ferry: outbox row {leased} is being delivered right now \(leased by ferry@host-a:4242 "
                        rf"until {ISO}\); left as it is\n", err)
    assert cli.json("outbox", "retry", "--all", "--connector", "mail") == {"retried": 1, "skipped_leased": 0}
    assert [due(pg_world, r) for r in free] == ["f", "t"]
    assert cli.ok("outbox", "retry", "--all") == "made 2 message(s) due now; skipped 1 being delivered (leased)\n"
    assert [due(pg_world, r) for r in free] == ["t", "t"]
    after = pg_world.sql(f"SELECT next_attempt_at, lease_owner, lease_expires_at FROM outbox WHERE id = {leased}")
    assert after == before and due(pg_world, leased) == "f"


def test_purge_deletes_for_good_and_leaves_leased_rows(cli, pg_world):  # noqa: F811
    first, second = enqueue(pg_world), enqueue(pg_world, connector="mail")
    leased = enqueue(pg_world, lease=("ferry@host-a:4242", "now() + interval '5 minutes'"))
    for target in (str(first), "--all"):
        err = cli.fails(2, "outbox", "purge", target)
        assert err == "ferry: purging drops messages for good; add --yes\n"
    assert pg_world.sql("SELECT count(*) FROM outbox") == "3"

    assert cli.ok("outbox", "purge", str(first), "--yes") == "purged 1 message(s)\n"
    assert "no outbox row with id 1 (see ferry outbox list)" in cli.fails(2, "outbox", "retry", str(first))
    err = cli.fails(2, "outbox", "purge", str(leased), "--yes")
    assert err.startswith(f"ferry: outbox row {leased} is being delivered right now (leased by ferry@host-a:4242")
    assert err.endswith("; not purged\n")
    assert cli.ok("outbox", "purge", "--all", "--yes") == "purged 1 message(s); skipped 1 being delivered (leased)\n"
    assert pg_world.sql("SELECT id, lease_owner FROM outbox") == f"{leased}|ferry@host-a:4242"
    assert second not in [m["id"] for m in cli.json("outbox", "list")["messages"]]
    assert cli.json("outbox", "purge", "--all", "--connector", "mail", "--yes") == {"purged": 0,
                                                                                    "skipped_leased": 0}
    # Once the lease has run out, the row is fair game.
    pg_world.sql(f"UPDATE outbox SET lease_expires_at = now() - interval '1 second' WHERE id = {leased}")
    assert cli.json("outbox", "purge", str(leased), "--yes") == {"purged": 1, "skipped_leased": 0}
    assert cli.ok("outbox", "list") == "the outbox is empty\n"


def test_dead_letters_list(cli, pg_world):  # noqa: F811
    assert cli.ok("dead-letters", "list") == "no dead letters\n"
    assert cli.json("dead-letters", "list") == {"total": 0, "messages": []}
    long_reason = "permanent failure: " + "the remote end said no; " * 5
    bury(pg_world, key=KEY, reason=long_reason)
    bury(pg_world, connector="mail", destination="bob@example.org", attempts=100)

    out = cli.ok("dead-letters", "list")
    rows = table(out.rsplit("\n", 2)[0])
    assert rows[0] == ["ID", "CONNECTOR", "DESTINATION", "ATTEMPTS", "REASON", "FAILED AT (UTC)"]
    assert rows[1][:4] == ["1", "ops", "alerts", "7"] and re.fullmatch(ISO, rows[1][5])
    assert rows[1][4].endswith("…") and len(rows[1][4]) == 60 and long_reason.startswith(rows[1][4][:-1])
    assert rows[2][:5] == ["2", "mail", "bob@example.org", "100", "550 mailbox unavailable"]
    assert out.endswith("\n2 dead letter(s)\n")

    listed = cli.json("dead-letters", "list")
    assert listed["total"] == 2
    first = listed["messages"][0]
    assert first["idempotency_key"] == KEY and first["reason"] == long_reason and first["conversation"] == "conv-ops"
    assert re.fullmatch(ISO, first["failed_at"]) and first["enqueued_at"] < first["failed_at"]
    assert cli.ok("dead-letters", "list", "--limit", "1").endswith(
        "\n2 dead letter(s) (showing the oldest 1; --limit N for more)\n")
    assert [d["id"] for d in cli.json("dead-letters", "list", "--connector", "mail")["messages"]] == [2]


def test_dead_letter_retry_round_trip_keeps_the_idempotency_key(cli, pg_world):  # noqa: F811
    dead = bury(pg_world, key=KEY, attempts=7)
    other = bury(pg_world, connector="mail")
    assert cli.ok("dead-letters", "retry", str(dead)) == "moved 1 dead letter(s) back to the outbox, due now\n"
    assert pg_world.sql("SELECT id FROM dead_letters") == str(other)
    assert pg_world.sql("SELECT c.name, o.conversation, o.destination, o.payload::text, o.attempts, "
                        "o.next_attempt_at <= now(), o.lease_owner IS NULL, o.last_error IS NULL "
                        f"FROM outbox o JOIN connectors c ON c.id = o.connector_id WHERE o.idempotency_key = '{KEY}'"
                        ) == 'ops|conv-ops|alerts|{"body": "lost"}|0|t|t|t'
    queued = cli.json("outbox", "list")
    assert queued["due"] == 1 and queued["messages"][0]["idempotency_key"] == KEY
    assert "no dead letter with id 1 (see ferry dead-letters list)" in cli.fails(2, "dead-letters", "retry", "1")
    assert cli.json("dead-letters", "retry", "--all") == {"retried": 1, "skipped_queued": 0}
    assert cli.ok("dead-letters", "list") == "no dead letters\n"
    assert pg_world.sql("SELECT count(*) FROM outbox") == "2"


def test_dead_letter_already_queued_stays(cli, pg_world):  # noqa: F811
    enqueue(pg_world, key=KEY)
    dead = bury(pg_world, key=KEY)
    bury(pg_world)
    err = cli.fails(2, "dead-letters", "retry", str(dead))
    assert err == f"ferry: dead letter {dead} is queued in the outbox already (same idempotency key); left as it is\n"
    assert cli.ok("dead-letters", "retry", "--all") == (
        "moved 1 dead letter(s) back to the outbox, due now; skipped 1 already queued in the outbox "
        "(same idempotency key)\n")
    assert pg_world.sql("SELECT id FROM dead_letters") == str(dead)


def test_dead_letter_retry_is_one_transaction(cli, pg_world):  # noqa: F811
    """When the outbox refuses one of the rows, no dead letter is deleted and none is queued."""
    bury(pg_world, key=KEY)
    bury(pg_world, destination="poison")
    pg_world.sql("CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.destination = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$;"
                 "CREATE TRIGGER test_refuse_poison BEFORE INSERT ON outbox FOR EACH ROW "
                 "EXECUTE FUNCTION test_refuse_poison()")
    try:
        err = cli.fails(1, "dead-letters", "retry", "--all")
        assert err.startswith("ferry: ") and "poisoned row" in err
    finally:
        pg_world.sql("DROP TRIGGER test_refuse_poison ON outbox; DROP FUNCTION test_refuse_poison()")
    assert pg_world.sql("SELECT count(*) FROM dead_letters") == "2"
    assert pg_world.sql("SELECT count(*) FROM outbox") == "0"
    assert cli.json("dead-letters", "retry", "--all") == {"retried": 2, "skipped_queued": 0}


BAD_INPUT = [
    (["outbox", "list", "extra"], "unexpected argument \"extra\""),
    (["outbox", "list", "--limit", "abc"], "invalid --limit \"abc\": expected a whole number from 0 to 10000"),
    (["outbox", "list", "--limit", "-1"], "invalid --limit \"-1\""),
    (["outbox", "list", "--limit", "10001"], "invalid --limit \"10001\""),
    (["outbox", "list", "--connector", "nope"], "unknown connector nope (see ferry connector list)"),
    (["outbox", "list", "--connector", "NOPE"], "invalid connector name \"NOPE\""),
    (["outbox", "frobnicate"], "unknown subcommand \"frobnicate\""),
    (["dead-letters", "list", "--connector", "nope"], "unknown connector nope (see ferry connector list)"),
    (["dead-letters", "list", "--limit", "1.5"], "invalid --limit \"1.5\""),
    (["outbox", "purge", "999", "--yes"], "no outbox row with id 999 (see ferry outbox list)"),
]
for command, missing in ((["outbox", "retry"], "which outbox row? give its id or --all (see ferry outbox list)"),
                         (["outbox", "purge"], "which outbox row? give its id or --all (see ferry outbox list)"),
                         (["dead-letters", "retry"],
                          "which dead letter? give its id or --all (see ferry dead-letters list)")):
    yes = ["--yes"] if command[1] == "purge" else []
    row = "outbox row" if command[0] == "outbox" else "dead letter"
    BAD_INPUT += [
        (command + yes, missing),
        (command + ["1", "--all"] + yes, "give an id or --all, not both"),
        (command + ["1", "2"] + yes, "unexpected argument \"2\""),
        (command + ["1", "--connector", "ops"] + yes, "--connector goes with --all; an id names one row already"),
        (command + ["--all", "--connector", "nope"] + yes, "unknown connector nope (see ferry connector list)"),
        (command + ["--all", "--connector", "Nope!"] + yes, "invalid connector name \"Nope!\""),
        (command + ["999"] + yes, f"no {row} with id 999"),
    ]
    for bad in ("abc", "0", "1x", "99999999999999999999"):
        BAD_INPUT.append((command + [bad] + yes, f"invalid {row} id \"{bad}\": expected a positive whole number"))


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input(cli, args, message):
    assert message in cli.fails(2, *args)


@pytest.mark.parametrize("command", [["outbox", "list"], ["outbox", "retry", "--all"], ["dead-letters", "list"]])
def test_database_unreachable(cli, command):
    done = cli(*command, url="postgresql://ferry:hunter2-secret@127.0.0.1:1/ferry")
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert "cannot connect" in done.stderr and "hunter2-secret" not in done.stderr
