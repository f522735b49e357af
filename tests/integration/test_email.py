"""The mail family (issue 14, first parts): an organisation mapping gives every user of an XMPP domain the
same name at a mail domain, a user's own mapping overrides it, and an XMPP user's message to any mail address
(`bob\\40example.com%mail@<component>`) becomes a mail from their address, sent through the relay (here
aiosmtpd, which can answer 451 once): 4xx retried, 5xx told to the sender. Receiving mail over LMTP, Postfix
and Dovecot end to end come with the next parts of the issue.
"""

from __future__ import annotations

import re

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


def test_a_message_to_any_mail_address_is_accepted_and_a_disabled_user_is_refused(
        cli, world, pg_world, start_ferry, relay):  # noqa: F811
    domain = world.domain
    cli.ok("connector", "set", "mail", "--setting", f"relay=127.0.0.1:{relay.port}", "--setting", "relay_tls=none")
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
    got = relay.wait_for(1)
    assert [(r.rcpt_tos, r.message()["From"]) for r in got] == [(["carol.o'neil@example.com"],
                                                                  "alice <alice@chat.test>")]


def test_a_connector_without_a_relay_takes_no_message(cli, world, pg_world, start_ferry):  # noqa: F811
    cli.ok("mapping", "add", "--xmpp", f"*@{world.domain}", "--connector", "mail", "--remote", "*@chat.test")
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(f"bob\\40example.com%mail@{world.component_domain}", "hi")
            assert stanza_error(await alice.next_message_error()) == ("cancel", "service-unavailable")

    run(scenario())


@pytest.fixture
def relay():
    from smtp_sink import SmtpSink
    with SmtpSink(refuse={"nobody@example.com"}, defer_once={"slow@example.com"}) as sink:
        yield sink


@pytest.fixture
def sending(cli, world, pg_world, start_ferry, relay):  # noqa: F811
    """The mail connector sends through the relay; every user of the XMPP domain is <name>@chat.test."""
    cli.ok("connector", "set", "mail", "--setting", f"relay=127.0.0.1:{relay.port}",
           "--setting", "relay_tls=none")
    cli.ok("mapping", "add", "--xmpp", f"*@{world.domain}", "--connector", "mail", "--remote", "*@chat.test")
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    return ferry


def test_a_message_becomes_a_mail_from_the_senders_address_with_tokens_that_lead_back(sending, relay, world):
    component = world.component_domain

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(f"bob\\40example.com%mail@{component}", "Hello *Bob*,\n> you said", id="a1")
            await alice.send_message(f"bob\\40example.com%mail@{component}", "and again", id="a2")

    run(scenario())
    got = relay.wait_for(2)
    assert len(got) == 2
    first = got[0]
    assert first.rcpt_tos == ["bob@example.com"]
    assert re.fullmatch(r"bounces\+[0-9a-f]{48}@chat\.test", first.mail_from), first.mail_from
    mail = first.message()
    assert mail["From"] == "alice <alice@chat.test>"
    assert mail["To"] == "bob@example.com"
    assert mail["Subject"] == "Chat with alice"
    token = first.mail_from[len("bounces+"):-len("@chat.test")]
    assert mail["Message-ID"] == f"<ferry.{token}@chat.test>", "the same token leads back from both"
    plain = mail.get_body(("plain",))
    assert plain.get_param("format") == "flowed"
    assert plain.get_content().replace("\r\n", "\n") == "Hello *Bob*,\n> you said\n"
    assert "<strong>Bob</strong>" in mail.get_body(("html",)).get_content()
    assert got[1].message()["Message-ID"] != mail["Message-ID"]
    assert got[1].peer == first.peer and relay.sessions == 1, "the second mail reuses the connection"


def test_a_4xx_is_tried_again_and_a_5xx_comes_back_to_the_sender_with_the_relays_words(sending, relay, world):
    component = world.component_domain

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(f"slow\\40example.com%mail@{component}", "patience", id="s1")
            await alice.send_message(f"nobody\\40example.com%mail@{component}", "hello?", id="n1")
            error = await alice.next_message_error(timeout=15)
            assert stanza_error(error) == ("wait", "recipient-unavailable")
            assert error.get("id") == "n1"
            text = "".join(error.itertext())
            assert "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown" in text

    run(scenario())
    got = relay.wait_for(1, timeout=20)
    assert [r.rcpt_tos for r in got] == [["slow@example.com"]], "delivered after the 451, and only once"
    assert got[0].message().get_body(("plain",)).get_content().replace("\r\n", "\n") == "patience\n"
