"""The mail family (issue 14, first parts): an organisation mapping gives every user of an XMPP domain the
same name at a mail domain, a user's own mapping overrides it, and an XMPP user's message to any mail address
(`bob\\40example.com%mail@<component>`) becomes a mail from their address, sent through the relay (here
aiosmtpd, which can answer 451 once): 4xx retried, 5xx told to the sender. Mail the MTA hands over by LMTP
reaches the XMPP user once, with enhanced status codes for what is refused. Postfix and Dovecot end to end
come with the next parts of the issue.
"""

from __future__ import annotations

import re
import socket

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from world_base import free_ports
from xmpp_client import Client, q, run, stanza_error

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
    refused = cli.fails(2, "connector", "add", "mail2", "--kind", "email", "--setting", "mail_domain=chat.test",
                        "--setting", "dmarc_failed=ignore")
    assert "dmarc_failed is refuse or mark, not \"ignore\"" in refused


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
    with SmtpSink(refuse={"nobody@example.com"}, defer_once={"slow@example.com"},
                  defer_for={"slower@example.com": 3.0}) as sink:
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


class Lmtp:
    """An MTA's side of LMTP (RFC 2033), command by command, so that each reply can be checked."""

    def __init__(self, port: int, greet: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        assert self.reply().startswith("220 ")
        if greet:
            assert self.command("LHLO mta.test").startswith("250")

    def reply(self) -> str:
        """One reply (all its lines), as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                assert chunk, "the listener closed the connection"
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] == b" ":
                return "\n".join(lines)

    def command(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send(self, sender: str, recipients: list[str], mail: bytes) -> list[str]:
        """MAIL, RCPT each, DATA: the RCPT replies, then one reply per accepted recipient after the data."""
        assert self.command(f"MAIL FROM:<{sender}>").startswith("250 ")
        rcpt = [self.command(f"RCPT TO:<{r}>") for r in recipients]
        accepted = sum(1 for r in rcpt if r.startswith("250"))
        if accepted == 0:
            assert self.command("RSET").startswith("250")
            return rcpt
        assert self.command("DATA").startswith("354")
        body = b"\r\n".join((b"." + line if line.startswith(b".") else line) for line in mail.split(b"\r\n"))
        self.sock.sendall(body + b"\r\n.\r\n")
        return rcpt + [self.reply() for _ in range(accepted)]

    def close(self) -> None:
        self.command("QUIT")
        self.sock.close()


def a_mail(message_id: str, text: str = "Hi Alice,\r\nsee you at 10.\r\n", subject: str = "Meeting") -> bytes:
    return (f"From: Bob Example <bob@example.com>\r\nTo: alice@chat.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()


@pytest.fixture
def receiving(cli, world, pg_world, start_ferry):  # noqa: F811
    """The mail connector takes mail over LMTP; every user of the XMPP domain is <name>@chat.test."""
    port = free_ports(1)[0]
    cli.ok("connector", "set", "mail", "--setting", f"listen=127.0.0.1:{port}", "--setting", "max_size=65536")
    cli.ok("mapping", "add", "--xmpp", f"*@{world.domain}", "--connector", "mail", "--remote", "*@chat.test")
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mail connector mail: taking mail over LMTP on 127\.0\.0\.1:%d" % port, timeout=10)
    return port


def test_mail_reaches_the_xmpp_user_from_the_senders_address_once(receiving, world):
    component = world.component_domain

    async def scenario():
        async with Client(world, "alice") as alice:
            lmtp = Lmtp(receiving)
            replies = lmtp.send("bob@example.com", ["alice@chat.test", "nobody@elsewhere.test"],
                                a_mail("m1@example.com"))
            assert replies[0] == "250 2.1.5 Ok"
            assert replies[1].startswith("550 5.1.1 <nobody@elsewhere.test>")
            assert replies[2] == f"250 2.0.0 <alice@chat.test> delivered to alice@{world.domain}"
            message = await alice.next_message(timeout=10)
            assert message.get("from") == f"bob\\40example.com%mail@{component}"
            assert message.findtext(q("body")) == "Hi Alice,\nsee you at 10."
            assert message.findtext(q("subject")) == "Meeting"
            # The MTA lost the 250 and delivers again: taken, not shown twice.
            assert lmtp.send("bob@example.com", ["alice@chat.test"], a_mail("m1@example.com"))[1].startswith("250 ")
            await alice.no_message(1.5)
            lmtp.close()

    run(scenario())


def test_the_listener_refuses_what_it_cannot_take_with_enhanced_codes(receiving):
    lmtp = Lmtp(receiving, greet=False)
    assert lmtp.command("HELO mta.test").startswith("500 5.5.1")
    assert lmtp.command("MAIL FROM:<bob@example.com>").startswith("503 5.5.1")
    lhlo = lmtp.command("LHLO mta.test")
    assert "250-PIPELINING" in lhlo and "250-ENHANCEDSTATUSCODES" in lhlo and "250 SIZE 65536" in lhlo
    assert lmtp.command("MAIL FROM:<bob@example.com> SIZE=100000").startswith("552 5.3.4")
    assert lmtp.command("RCPT TO:<alice@chat.test>").startswith("503 5.5.1")
    assert lmtp.command("DATA").startswith("503 5.5.1")
    assert lmtp.command("MAIL FROM:<bob@example.com>").startswith("250 2.1.0")
    assert lmtp.command("RCPT TO:<not an address>").startswith("501 5.1.3")
    # A return path with a token Ferry never made: no delivery report goes through it.
    assert lmtp.command(f"RCPT TO:<bounces+{'0' * 48}@chat.test>").startswith("550 5.1.1")
    assert lmtp.command("DATA").startswith("503 5.5.1 no valid recipients")
    assert lmtp.command("RSET").startswith("250 2.0.0")
    assert lmtp.command("BDAT 10").startswith("500 5.5.2")
    replies = lmtp.send("bob@example.com", ["alice@chat.test"], a_mail("big@example.com", "x" * 70000 + "\r\n"))
    assert replies[1].startswith("552 5.3.4"), "too big, read to its end and refused"
    assert lmtp.command("NOOP").startswith("250"), "the session goes on"
    lmtp.close()


def test_an_html_only_mail_is_shown_as_readable_text(receiving, world):
    html = ("<html><head><style>p{color:red}</style></head><body><p>Hello <b>Alice</b>,</p>"
            "<p>the <a href=\"https://example.com/agenda\">agenda</a> is ready.</p><script>x()</script></body></html>")
    mail = (b"From: bob@example.com\r\nTo: alice@chat.test\r\nSubject: Agenda\r\nMessage-ID: <h1@example.com>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" + html.encode() + b"\r\n")

    async def scenario():
        async with Client(world, "alice") as alice:
            lmtp = Lmtp(receiving)
            assert lmtp.send("bob@example.com", ["alice@chat.test"], mail)[1].startswith("250 ")
            message = await alice.next_message(timeout=10)
            assert message.findtext(q("body")) == "Hello Alice,\nthe agenda <https://example.com/agenda> is ready."
            lmtp.close()

    run(scenario())


def test_one_slow_recipient_holds_up_no_other_mail(sending, relay, world):
    component = world.component_domain

    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            await alice.send_message(f"slower\\40example.com%mail@{component}", "first, retried", id="s1")
            await alice.send_message(f"carol\\40example.com%mail@{component}", "second, to carol", id="c1")
            await bob.send_message(f"dave\\40example.com%mail@{component}", "third, from bob", id="d1")

    run(scenario())
    got = relay.wait_for(3, timeout=30)
    order = [r.rcpt_tos[0] for r in got]
    assert sorted(order[:2]) == ["carol@example.com", "dave@example.com"], \
        f"the mails after a 451 go out while the 451 waits for its retry: {order}"
    assert order[2:] == ["slower@example.com"]


@pytest.mark.parametrize("policy", ["refuse", "mark"])
def test_mail_failing_dmarc_at_the_trusted_mta_is_refused_or_marked(cli, world, pg_world, start_ferry,
                                                                    policy):  # noqa: F811
    port = free_ports(1)[0]
    cli.ok("connector", "set", "mail", "--setting", f"listen=127.0.0.1:{port}",
           "--setting", "authserv_id=mx.chat.test", "--setting", f"dmarc_failed={policy}")
    cli.ok("mapping", "add", "--xmpp", f"*@{world.domain}", "--connector", "mail", "--remote", "*@chat.test")
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mail connector mail: taking mail over LMTP", timeout=10)

    def signed(message_id: str, results: str) -> bytes:
        return b"Authentication-Results: " + results.encode() + b"\r\n" + a_mail(message_id, "It is me, your bank.\r\n")

    async def scenario():
        async with Client(world, "alice") as alice:
            lmtp = Lmtp(port)
            failed = lmtp.send("bob@example.com", ["alice@chat.test"],
                               signed("d1@example.com", "mx.chat.test; dmarc=fail header.from=example.com"))
            if policy == "refuse":
                assert failed[1].startswith("550 5.7.1 "), failed
                assert "DMARC" in failed[1]
            else:
                assert failed[1].startswith("250 "), failed
                marked = await alice.next_message(timeout=10)
                assert marked.findtext(q("body")) == "[unverified sender: DMARC failed] It is me, your bank."
            # A field under another authserv-id is anyone's word: ignored, the mail is shown as it is.
            forged = lmtp.send("bob@example.com", ["alice@chat.test"],
                               signed("d2@example.com", "mx.elsewhere.test; dmarc=fail"))
            assert forged[1].startswith("250 "), forged
            shown = await alice.next_message(timeout=10)
            assert shown.findtext(q("body")) == "It is me, your bank."
            lmtp.close()

    run(scenario())
