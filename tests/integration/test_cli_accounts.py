"""`ferry account …` against a private PostgreSQL: a JID's registration with a connector, its secret read
from standard input, stored encrypted with database.secret_key, and never printed by any command.
"""

from __future__ import annotations

import base64
import os

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)

KEY = base64.b64encode(os.urandom(32)).decode()
OTHER_KEY = base64.b64encode(os.urandom(32)).decode()
SECRET = "imap-pässword hunter2"


@pytest.fixture(scope="module")
def migrated(pg_world, ferry_binary):  # noqa: F811
    cli = Cli(ferry_binary, pg_world.url)
    assert cli("db", "migrate").returncode == 0
    return cli


@pytest.fixture
def cli(migrated, pg_world):  # noqa: F811
    pg_world.sql("DELETE FROM accounts; DELETE FROM mappings; DELETE FROM connectors")
    migrated.ok("connector", "add", "mail", "--kind", "log", "--setting", "path=/tmp/ferry-accounts.jsonl")
    return migrated


def add_with_secret(cli: Cli, jid: str, key: str = KEY, secret: str = SECRET + "\n"):
    return cli("account", "add", jid, "--connector", "mail", "--remote", "alice@mail.example.org",
               "--secret-stdin", stdin=secret, extra_env={"FERRY_DATABASE_SECRET_KEY": key})


def test_account_round_trip_never_shows_the_secret(cli, pg_world):  # noqa: F811
    done = add_with_secret(cli, "Alice@Example.org")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("added account alice@example.org on connector mail as alice@mail.example.org, "
                           "secret stored encrypted\n")
    assert cli.ok("account", "add", "bob@example.org", "--connector", "mail", "--remote", "bob",
                  "--setting", "folder=INBOX") == "added account bob@example.org on connector mail as bob\n"

    listed = cli.ok("account", "list")
    assert listed.splitlines()[0].split() == ["JID", "CONNECTOR", "REMOTE", "SECRET", "SETTINGS"]
    assert "stored (encrypted)" in listed.splitlines()[1] and "alice@example.org" in listed.splitlines()[1]
    assert "none" in listed.splitlines()[2] and "folder=INBOX" in listed.splitlines()[2]
    accounts = cli.json("account", "list", "--connector", "mail")
    assert [(a["jid"], a["has_secret"]) for a in accounts] == [("alice@example.org", True),
                                                               ("bob@example.org", False)]
    shown = cli.ok("account", "show", "alice@example.org", "--connector", "mail")
    for output in (listed, shown, str(accounts)):
        assert "hunter2" not in output

    # At rest: the column holds a version byte, a nonce, the ciphertext and a tag, not the secret.
    stored = pg_world.sql("SELECT encode(secret_ciphertext, 'hex') FROM accounts WHERE jid = 'alice@example.org'")
    raw = bytes.fromhex(stored.strip())
    assert raw[0] == 1 and len(raw) == 1 + 12 + len(SECRET.encode()) + 16
    assert b"hunter2" not in raw and SECRET.encode() not in raw

    assert cli.json("account", "remove", "alice@example.org", "--connector", "mail")["jid"] == "alice@example.org"
    assert "alice@example.org has no account with connector mail" in cli.fails(
        2, "account", "show", "alice@example.org", "--connector", "mail")


def test_secret_needs_a_key_and_a_good_one(cli):
    done = cli("account", "add", "alice@example.org", "--connector", "mail", "--remote", "a", "--secret-stdin",
               stdin=SECRET)
    assert done.returncode == 2 and done.stdout == ""
    assert "storing a secret needs database.secret_key" in done.stderr
    assert "hunter2" not in done.stderr
    done = add_with_secret(cli, "alice@example.org", key="not-a-key")
    assert done.returncode == 2, done.stderr
    assert "database.secret_key is not a usable key" in done.stderr and "not-a-key" not in done.stderr
    assert cli.json("account", "list") == [], "nothing was written"


@pytest.mark.parametrize("args, stdin, message", [
    (["account", "add", "alice@example.org", "--connector", "nope", "--remote", "a"], "",
     "unknown connector nope (see ferry connector list)"),
    (["account", "add", "alice@example.org/laptop", "--connector", "mail", "--remote", "a"], "",
     "an account belongs to a bare JID, not a full JID: leave out \"/laptop\""),
    (["account", "add", "not a jid", "--connector", "mail", "--remote", "a"], "", "invalid XMPP address"),
    (["account", "add", "alice@example.org", "--connector", "mail"], "", "--remote is required"),
    (["account", "add", "--connector", "mail", "--remote", "a"], "", "which JID?"),
    (["account", "add", "alice@example.org", "--connector", "mail", "--remote", "a", "--secret-stdin"], "\n",
     "standard input is empty"),
    (["account", "show", "alice@example.org"], "", "--connector is required"),
    (["account", "remove", "nobody@example.org", "--connector", "mail"], "",
     "nobody@example.org has no account with connector mail"),
    (["account", "list", "--connector", "nope"], "", "unknown connector nope"),
])
def test_bad_input(cli, args, stdin, message):
    done = cli(*args, stdin=stdin, extra_env={"FERRY_DATABASE_SECRET_KEY": KEY})
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert message in done.stderr, done.stderr


def test_duplicate_account_is_refused(cli):
    assert add_with_secret(cli, "alice@example.org").returncode == 0
    done = add_with_secret(cli, "alice@example.org", key=OTHER_KEY)
    assert done.returncode == 2
    assert "alice@example.org already has an account with connector mail" in done.stderr
