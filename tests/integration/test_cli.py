"""`ferry connector …` and `ferry mapping …` against a private PostgreSQL: every command's round trip
(human tables and --json), and the messages and exit codes a user gets for bad input.

Exit codes: 0 success, 1 database trouble (unreachable, SQL error), 2 bad input (including unknown
names and ids).
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)

# DELETE and setval rather than TRUNCATE: every TRUNCATE makes new files, which the server then syncs one by
# one at shutdown (tens of seconds for this module).
RESET_SQL = ";".join(
    [f"DELETE FROM {t}" for t in ("mappings", "outbox", "dead_letters", "accounts", "inbound_seen", "message_map",
                                  "connectors")]
    + [f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), 1, false)" for t in ("connectors", "mappings")])
LOG_PATH = "/var/log/ferry/ops.jsonl"


@pytest.fixture(scope="module")
def migrated(pg_world, ferry_binary):  # noqa: F811
    cli = Cli(ferry_binary, pg_world.url)
    done = cli("db", "migrate")  # logs each applied migration on stderr
    assert done.returncode == 0 and "applied 001_initial" in done.stdout, done.stderr
    return cli


@pytest.fixture
def cli(migrated, pg_world):  # noqa: F811
    pg_world.sql(RESET_SQL)
    return migrated


@pytest.fixture
def ops(cli):
    """A `log` connector named ops."""
    cli.ok("connector", "add", "ops", "--kind", "log", "--setting", f"path={LOG_PATH}")
    return cli


def table(text: str) -> list[list[str]]:
    """Splits a human table on its runs of two or more blanks, checking that columns are aligned."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]
    for line in lines[1:]:
        for s in starts[1:]:
            if s < len(line):
                assert line[s - 1] == " " and line[s] != " ", f"column not aligned at {s}:\n{text}"
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def record(text: str) -> dict[str, str]:
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in text.rstrip("\n").split("\n"))


def test_help_lists_the_commands(cli):
    out = cli.ok("help")
    for words in ("connector add", "connector remove", "mapping add", "mapping disable", "mapping list"):
        assert words in out


def test_help_kinds_lists_every_kind_with_its_secrets_and_what_authenticates_it(cli):
    out = cli.ok("help", "kinds")
    kinds = re.findall(r"^  (\S+) - ", out, re.M)
    for kind in ("log", "alertmanager", "grafana", "webhook", "slack", "slack-webhook", "mattermost", "rocketchat",
                 "discord", "matrix", "telegram", "http-json"):
        assert kind in kinds, out
    alertmanager = out.split("\n  alertmanager - ")[1].split("\n\n")[0]
    assert "token (secret):" in alertmanager
    assert "\n      token must be set, or auth=none" in alertmanager, alertmanager
    webhook = out.split("\n  webhook - ")[1].split("\n\n")[0]
    assert "one of token or secret must be set, or auth=none" in webhook, webhook


def test_connector_round_trip(cli):
    assert cli.ok("connector", "list") == "no connectors (add one with: ferry connector add NAME --kind KIND)\n"
    assert cli.json("connector", "list") == []
    assert cli.ok("connector", "add", "ops", "--kind", "log", "--setting", f"path={LOG_PATH}") == \
        "added connector ops (kind log)\n"
    added = cli.json("connector", "add", "archive-2", "--kind=log", "--setting=path=/srv/a b.jsonl", "--disabled")
    assert added["name"] == "archive-2" and added["kind"] == "log" and added["enabled"] is False
    assert added["settings"] == {"path": "/srv/a b.jsonl"} and added["mappings"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", added["created_at"])

    rows = table(cli.ok("connector", "list"))
    assert rows == [["NAME", "KIND", "ENABLED", "MAPPINGS", "SETTINGS"],
                    ["archive-2", "log", "no", "0", "path=/srv/a b.jsonl"],
                    ["ops", "log", "yes", "0", f"path={LOG_PATH}"]]
    listed = cli.json("connector", "list")
    assert [c["name"] for c in listed] == ["archive-2", "ops"]
    assert listed[1]["settings"] == {"path": LOG_PATH} and listed[1]["enabled"] is True

    shown = record(cli.ok("connector", "show", "ops"))
    assert shown["name"] == "ops" and shown["kind"] == "log" and shown["enabled"] == "yes"
    assert shown["settings"] == f"path={LOG_PATH}" and shown["mappings"] == "0"
    assert cli.json("connector", "show", "ops") == listed[1]

    assert cli.ok("connector", "remove", "archive-2") == "removed connector archive-2\n"
    assert cli.json("connector", "remove", "ops")["name"] == "ops"
    assert cli.json("connector", "list") == []


def test_mapping_round_trip(ops):
    cli = ops
    assert cli.ok("mapping", "list") == "no mappings\n"
    assert cli.ok("mapping", "add", "--xmpp", "Alice@Example.ORG", "--connector", "ops", "--remote", "#ops") == "1\n"
    room = cli.json("mapping", "add", "--xmpp", "ops@rooms.example.org", "--connector", "ops", "--remote",
                    "alerts", "--direction", "in", "--option", "nick=%s (ops)", "--option", "template=short")
    assert room["id"] == 2 and room["xmpp"] == "ops@rooms.example.org" and room["direction"] == "in"
    assert room["options"] == {"nick": "%s (ops)", "template": "short"} and room["enabled"] is True
    assert cli.ok("mapping", "add", "--xmpp", "example.net", "--connector", "ops", "--remote", "x",
                  "--direction", "out", "--disabled") == "3\n"

    rows = table(cli.ok("mapping", "list"))
    assert rows[0] == ["ID", "XMPP", "CONNECTOR", "REMOTE", "DIRECTION", "ENABLED", "OPTIONS"]
    assert rows[1] == ["1", "alice@example.org", "ops", "#ops", "both", "yes", "-"]
    assert rows[2] == ["2", "ops@rooms.example.org", "ops", "alerts", "in", "yes", "nick=%s (ops) template=short"]
    assert rows[3] == ["3", "example.net", "ops", "x", "out", "no", "-"]
    assert [m["id"] for m in cli.json("mapping", "list")] == [1, 2, 3]
    assert [m["id"] for m in cli.json("mapping", "list", "--connector", "ops")] == [1, 2, 3]
    assert [m["id"] for m in cli.json("mapping", "list", "--xmpp", "ALICE@example.org")] == [1]
    assert cli.ok("mapping", "list", "--xmpp", "nobody@example.org") == "no mappings\n"
    assert cli.json("connector", "show", "ops")["mappings"] == 3

    shown = record(cli.ok("mapping", "show", "2"))
    assert shown["id"] == "2" and shown["xmpp"] == "ops@rooms.example.org" and shown["connector"] == "ops"
    assert shown["remote"] == "alerts" and shown["direction"] == "in" and shown["enabled"] == "yes"
    before = cli.json("mapping", "show", "2")
    assert before == room

    time.sleep(1.1)  # updated_at has a resolution of one second in the output
    assert cli.ok("mapping", "disable", "2") == "disabled mapping 2\n"
    after = cli.json("mapping", "show", "2")
    assert after["enabled"] is False and after["updated_at"] > before["updated_at"]
    assert cli.ok("mapping", "disable", "2") == "mapping 2 is already disabled\n"
    assert cli.json("mapping", "show", "2")["updated_at"] == after["updated_at"]
    assert cli.json("mapping", "enable", "2")["enabled"] is True
    assert cli.ok("mapping", "enable", "2") == "mapping 2 is already enabled\n"

    assert cli.ok("mapping", "remove", "1") == "removed mapping 1\n"
    assert cli.json("mapping", "remove", "3")["remote"] == "x"
    assert [m["id"] for m in cli.json("mapping", "list")] == [2]
    assert "no mapping with id 1" in cli.fails(2, "mapping", "show", "1")


def test_removing_a_referenced_connector_is_refused(ops, pg_world):  # noqa: F811
    cli = ops
    cli.ok("mapping", "add", "--xmpp", "alice@example.org", "--connector", "ops", "--remote", "a")
    err = cli.fails(2, "connector", "remove", "ops")
    assert err == "ferry: connector ops still has 1 mapping(s); remove them first\n"
    cli.ok("mapping", "remove", "1")
    pg_world.sql("INSERT INTO outbox (connector_id, conversation, destination, payload) "
                 "SELECT id, 'c', 'd', '{}' FROM connectors WHERE name = 'ops'")
    assert "still has 1 message(s) waiting in the outbox" in cli.fails(2, "connector", "remove", "ops")
    pg_world.sql("DELETE FROM outbox")
    assert cli.ok("connector", "remove", "ops") == "removed connector ops\n"


BAD_CONNECTOR_INPUT = [
    (["connector", "add", "Ops!", "--kind", "log"], "invalid connector name \"Ops!\""),
    (["connector", "add", "ops", "--kind", "irc"],
     "unknown connector kind \"irc\" (known: log, alertmanager, grafana, webhook, discord, http-json, matrix, "
     "mattermost, rocketchat, slack-webhook, slack, telegram, email)"),
    (["connector", "add", "ops", "--kind", "slack"], "connector kind slack needs --setting token=..."),
    (["connector", "add", "ops"], "--kind is required"),
    (["connector", "add", "am", "--kind", "alertmanager", "--setting", "dedup_window=5m"],
     "dedup_window is a number of seconds (0-9999999), not \"5m\""),
    (["connector", "add", "am", "--kind", "alertmanager", "--setting", "url=http://x"], "unknown setting \"url\""),
    # No hook is open by accident: a receive-only kind needs its token or secret, or an explicit auth=none.
    (["connector", "add", "am", "--kind", "alertmanager"],
     "a alertmanager connector would take requests from anyone who can reach Ferry: give --setting token=…"),
    (["connector", "add", "ci", "--kind", "webhook", "--setting", "text=/message"],
     "give --setting token=… or --setting secret=…"),
    (["connector", "add", "ci", "--kind", "webhook", "--setting", "secret="],
     "--setting secret is empty: a secret must be set (was the shell variable it came from unset?)"),
    (["connector", "add", "am", "--kind", "alertmanager", "--setting", "token="], "--setting token is empty"),
    (["connector", "add", "am", "--kind", "alertmanager", "--setting", "auth=maybe"],
     "auth takes one value, none"),
    (["connector", "add", "am", "--kind", "alertmanager", "--setting", "auth=none", "--setting", "token=t"],
     "auth=none and token contradict each other"),
    (["connector", "add", "ops", "--kind", "log", "--setting", "path=/x", "--setting", "auth=none"],
     "unknown setting \"auth\" for connector kind log"),
    (["connector", "set", "nope", "--setting", "token=x"], "unknown connector nope"),
    (["connector", "add", "--kind", "log", "--setting", "path=/x"], "which name?"),
    (["connector", "add", "ops", "--kind", "log"], "connector kind log needs --setting path=..."),
    (["connector", "add", "ops", "--kind", "log", "--setting", "path"], "expected key=value"),
    (["connector", "add", "ops", "--kind", "log", "--setting", "path=/x", "--setting", "path=/y"], "given twice"),
    (["connector", "add", "ops", "--kind", "log", "--setting", "paht=/x"], "unknown setting \"paht\""),
    (["connector", "add", "ops", "--kind", "log", "--setting", "path=rel.jsonl"], "must be an absolute file"),
    (["connector", "add", "ops", "--kind"], "--kind needs a value"),
    (["connector", "list", "extra"], "unexpected argument \"extra\""),
    (["connector", "show", "nope"], "unknown connector nope (see ferry connector list)"),
    (["connector", "show"], "which connector?"),
    (["connector", "remove", "nope"], "unknown connector nope (see ferry connector list)"),
    (["connector", "remove", "NOPE"], "invalid connector name"),
    (["connector", "frobnicate"], "unknown subcommand \"frobnicate\""),
]


@pytest.mark.parametrize("args, message", BAD_CONNECTOR_INPUT, ids=[" ".join(a) for a, _ in BAD_CONNECTOR_INPUT])
def test_bad_connector_input(cli, args, message):
    assert message in cli.fails(2, *args)


def test_duplicate_connector(ops):
    err = ops.fails(2, "connector", "add", "ops", "--kind", "log", "--setting", "path=/other")
    assert err == "ferry: connector ops already exists\n"


def add(*extra: str) -> list[str]:
    base = {"--xmpp": "alice@example.org", "--connector": "ops", "--remote": "a"}
    args = ["mapping", "add"]
    for flag, value in base.items():
        if flag not in extra:
            args += [flag, value]
    return args + list(extra)


BAD_MAPPING_INPUT = [
    (add("--connector", "nope"), "unknown connector nope (see ferry connector list)"),
    (add("--xmpp", "not a jid"), "invalid XMPP address \"not a jid\""),
    (add("--xmpp", "@example.org"), "invalid XMPP address"),
    (add("--xmpp", "alice@example.org/phone"), "a mapping binds a bare JID or a room, not a full JID"),
    (add("--direction", "sideways"), "--direction must be in, out or both, not \"sideways\""),
    (add("--option", "=x"), "expected key=value"),
    (["mapping", "add", "--connector", "ops", "--remote", "a"], "--xmpp is required"),
    (["mapping", "add", "--xmpp", "alice@example.org", "--remote", "a"], "--connector is required"),
    (["mapping", "add", "--xmpp", "alice@example.org", "--connector", "ops"], "--remote is required"),
    (add("--remote", ""), "--remote must not be empty"),
    (add("--remote", "a\nb"), "--remote must be valid UTF-8 without control characters"),
    (add("--xmpp", "a@b", "--xmpp", "c@d"), "--xmpp is given twice"),
    (["mapping", "list", "--connector", "nope"], "unknown connector nope"),
    (["mapping", "list", "--xmpp", "bob@example.org/r"], "not a full JID"),
    (["mapping", "show"], "which mapping?"),
    (["mapping", "show", "1", "2"], "unexpected argument \"2\""),
    (["mapping", "show", "999"], "no mapping with id 999 (see ferry mapping list)"),
    (["mapping", "remove", "999"], "no mapping with id 999"),
    (["mapping", "enable", "999"], "no mapping with id 999"),
    (["mapping", "disable", "999"], "no mapping with id 999"),
]
for sub in ("show", "remove", "enable", "disable"):
    for bad in ("abc", "1x", "0", "1.5", "99999999999999999999"):
        BAD_MAPPING_INPUT.append((["mapping", sub, bad], f"invalid mapping id \"{bad}\": expected a positive"))


@pytest.mark.parametrize("args, message", BAD_MAPPING_INPUT, ids=[" ".join(a) for a, _ in BAD_MAPPING_INPUT])
def test_bad_mapping_input(ops, args, message):
    assert message in ops.fails(2, *args)


def test_negative_id_is_refused(ops):
    # "-1" looks like an option to the argument splitter: still a usage error that names it.
    assert "-1" in ops.fails(2, "mapping", "show", "-1")


def test_duplicate_mapping_names_the_existing_id(ops):
    assert ops.ok(*add()) == "1\n"
    err = ops.fails(2, *add("--xmpp", "ALICE@EXAMPLE.ORG", "--direction", "in"))
    assert err == "ferry: this mapping exists already (id 1)\n"


@pytest.mark.parametrize("command", [["connector", "list"], ["connector", "add", "x", "--kind", "log"],
                                     ["mapping", "list"], ["mapping", "show", "1"]])
def test_unknown_flag_goes_to_the_config_loader(cli, command):
    err = cli.fails(2, *command, "--foo", "bar")
    assert re.search(r"unknown .*option.*--foo", err), err


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["connector", "list"], ["connector", "add", "ops", "--kind", "log",
                                                              "--setting", "path=/x"],
                                     ["mapping", "add", "--xmpp", "a@b.c", "--connector", "ops", "--remote", "r"],
                                     ["mapping", "disable", "1"]])
def test_database_unreachable(cli, command):
    port = unused_port()
    done = cli(*command, url=f"postgresql://ferry:hunter2-secret@127.0.0.1:{port}/ferry")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "127.0.0.1" in done.stderr and str(port) in done.stderr
    assert "cannot connect" in done.stderr
    assert "hunter2-secret" not in done.stderr


def test_missing_database_url_is_a_configuration_error(cli):
    done = cli("connector", "list", url="")
    assert done.returncode == 2 and "database.url is required" in done.stderr


def test_secrets_are_redacted_by_what_each_kind_declares(cli):
    cli.ok("connector", "add", "am", "--kind", "alertmanager", "--setting", "token=s3cret-token",
           "--setting", "dedup_window=60")
    cli.ok("connector", "add", "mx", "--kind", "matrix", "--setting", "base_url=https://matrix.example.org",
           "--setting", "token=syt_abc", "--setting", "hs_token=hs-secret", "--setting", "bot_user=@ferry:example.org")
    shown = cli.json("connector", "show", "am")["settings"]
    assert shown == {"token": "<redacted>", "dedup_window": "60"}
    matrix = cli.json("connector", "show", "mx")["settings"]
    assert matrix["token"] == "<redacted>" and matrix["hs_token"] == "<redacted>"
    assert matrix["base_url"] == "https://matrix.example.org" and matrix["bot_user"] == "@ferry:example.org"
    listing = cli.ok("connector", "list")
    assert "s3cret" not in listing and "syt_abc" not in listing and "hs-secret" not in listing
    # Asked for by name, a secret is printed alone, for scripts: $(ferry connector show am --reveal token).
    assert cli.ok("connector", "show", "am", "--reveal", "token") == "s3cret-token\n"
    assert "has no setting nope" in cli.fails(2, "connector", "show", "am", "--reveal", "nope")


def test_a_hook_open_by_choice_says_so_in_every_listing(cli):
    assert cli.ok("connector", "add", "open", "--kind", "webhook", "--setting", "auth=none") == \
        "added connector open (kind webhook)\n"
    assert "auth=none" in cli.ok("connector", "list")
    assert cli.json("connector", "show", "open")["settings"] == {"auth": "none"}


def test_an_empty_secret_left_by_an_older_ferry_shows_as_empty(cli, pg_world):  # noqa: F811
    pg_world.sql("""INSERT INTO connectors (name, kind, settings) VALUES ('old', 'webhook', '{"token": ""}')""")
    assert cli.json("connector", "show", "old")["settings"] == {"token": "<empty>"}


def test_connector_set_changes_and_unsets_settings_as_add_checks_them(cli):
    cli.ok("connector", "add", "am", "--kind", "alertmanager", "--setting", "token=first", "--setting",
           "dedup_window=60")
    assert cli.ok("connector", "set", "am", "--setting", "token=second", "--unset", "dedup_window") == \
        "updated connector am: set token; unset dedup_window (running Ferry processes take it within a second)\n"
    assert cli.ok("connector", "show", "am", "--reveal", "token") == "second\n"
    assert cli.json("connector", "show", "am")["settings"] == {"token": "<redacted>"}
    # The result must still pass the checks of add.
    assert "would take requests from anyone" in cli.fails(2, "connector", "set", "am", "--unset", "token")
    assert "dedup_window is a number of seconds" in cli.fails(2, "connector", "set", "am", "--setting",
                                                              "dedup_window=soon")
    assert "has no setting nope to unset" in cli.fails(2, "connector", "set", "am", "--unset", "nope")
    assert "nothing to change" in cli.fails(2, "connector", "set", "am")
    assert cli.json("connector", "set", "am", "--setting", "token=third")["settings"] == {"token": "<redacted>"}
    assert cli.ok("connector", "show", "am", "--reveal", "token") == "third\n"
