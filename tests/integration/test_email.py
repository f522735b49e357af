"""The mail family's addresses (issue 14, first part): an organisation mapping gives every user of an XMPP
domain the same name at a mail domain, a user's own mapping overrides it, and an XMPP user's message to any
mail address (`bob\\40example.com%mail@<component>`) is taken into the outbox for that address. Sending it
over SMTP and receiving mail over LMTP come with the next parts of the issue.
"""

from __future__ import annotations

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from xmpp_client import Client, run, stanza_error

RESET_SQL = ("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
             "DELETE FROM mappings; DELETE FROM connectors;")


@pytest.fixture
def cli(pg_world, ferry_binary):  # noqa: F811
    cli = Cli(ferry_binary, pg_world.url)
    assert cli("db", "migrate").returncode == 0
    pg_world.sql(RESET_SQL)
    cli.ok("connector", "add", "mail", "--kind", "email", "--setting", "mail_domain=chat.test")
    return cli


def test_an_organisation_mapping_and_overrides_are_rows_the_cli_shows(cli, world):
    domain = world.domain
    cli.ok("mapping", "add", "--xmpp", f"*@{domain}", "--connector", "mail", "--remote", "*@chat.test")
    cli.ok("mapping", "add", "--xmpp", f"bob@{domain}", "--connector", "mail", "--remote", "robert@chat.test")
    rows = cli.json("mapping", "list", "--connector", "mail")
    assert [(r["xmpp"], r["remote"]) for r in rows] == [
        (f"*@{domain}", "*@chat.test"), (f"bob@{domain}", "robert@chat.test")]

    refused = cli.fails(2, "mapping", "add", "--xmpp", f"*@{domain}", "--connector", "mail",
                        "--remote", "alice@chat.test")
    assert "an organisation mapping binds every user of an XMPP domain" in refused
    refused = cli.fails(2, "mapping", "add", "--xmpp", f"alice@{domain}", "--connector", "mail",
                        "--remote", "alice smith@chat.test")
    assert "the remote address of a mail mapping is the user's mail address" in refused
    assert "\"alice smith\" is not a local part of a mail address" in refused


def test_bad_settings_are_refused_with_the_reason(cli):
    refused = cli.fails(2, "connector", "add", "mail2", "--kind", "email", "--setting", "mail_domain=chat.test",
                        "--setting", "listen=localhost:2424")
    assert "listen: \"localhost\" is not an IP address" in refused
    refused = cli.fails(2, "connector", "add", "mail2", "--kind", "email")
    assert "needs --setting mail_domain" in refused


def queued(pg_world):  # noqa: F811
    rows = pg_world.sql("SELECT o.destination || ' ' || (o.payload->>'text') FROM outbox o "
                        "JOIN connectors c ON c.id = o.connector_id WHERE c.name = 'mail' ORDER BY o.id")
    return [line for line in rows.splitlines() if line]


def test_a_message_to_any_mail_address_is_queued_for_it_and_a_disabled_user_is_refused(
        cli, world, pg_world, start_ferry):  # noqa: F811
    domain = world.domain
    cli.ok("mapping", "add", "--xmpp", f"*@{domain}", "--connector", "mail", "--remote", "*@chat.test")
    cli.ok("mapping", "add", "--xmpp", f"bob@{domain}", "--connector", "mail", "--remote", "bob@chat.test",
           "--disabled")
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    component = world.component_domain

    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            await alice.send_message(f"Carol.O\\27Neil\\40Example.com%mail@{component}", "hello carol", id="m1",
                                     receipt=True)
            assert await alice.next_receipt(timeout=10) == "m1"
            await alice.send_message(f"not-an-address%mail@{component}", "hi")
            assert stanza_error(await alice.next_message_error()) == ("cancel", "service-unavailable")
            # bob's own mapping is disabled: the organisation's does not apply to him.
            await bob.send_message(f"carol\\40example.com%mail@{component}", "hi")
            assert stanza_error(await bob.next_message_error()) == ("cancel", "service-unavailable")

    run(scenario())
    # The server folds the JID's case; the mail domain's case does not matter, the local part keeps it.
    assert queued(pg_world) == ["carol.o'neil@example.com hello carol"]
