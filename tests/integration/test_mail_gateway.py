"""The mail gateway end to end through a real Postfix and real Dovecot mailboxes (issue 14): Postfix relays
Ferry's mail to Dovecot, where the test reads it over IMAP; mail for the bridge's domain (`chat.test`) goes
from Postfix to Ferry's LMTP; and what cannot be delivered comes back as Postfix's own bounces.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import urllib.request
from email.message import EmailMessage

import pytest

from ferry_cli import Cli
from mail_world import BRIDGE_DOMAIN, mail_world  # noqa: F401  (module-scoped fixture)
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from world_base import free_ports
from xmpp_client import Client, q, run

RESET_SQL = ("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
             "DELETE FROM mappings; DELETE FROM connectors;")


@pytest.fixture
def gateway(pg_world, ferry_binary, world, start_ferry, mail_world):  # noqa: F811
    """Every user of the XMPP domain but carol is <name>@chat.test; Ferry sends through Postfix and takes
    chat.test's mail from it over LMTP."""
    mail_world.clear_mailboxes()
    cli = Cli(ferry_binary, pg_world.url)
    assert cli("db", "migrate").returncode == 0
    pg_world.sql(RESET_SQL)
    cli.ok("connector", "add", "mail", "--kind", "email", "--setting", f"mail_domain={BRIDGE_DOMAIN}",
           "--setting", f"relay=127.0.0.1:{mail_world.smtp_port}", "--setting", "relay_tls=none",
           "--setting", f"listen=127.0.0.1:{mail_world.ferry_lmtp_port}")
    cli.ok("mapping", "add", "--xmpp", f"*@{world.domain}", "--connector", "mail", "--remote", f"*@{BRIDGE_DOMAIN}")
    # carol's own mapping is disabled: she is not bridged.
    cli.ok("mapping", "add", "--xmpp", f"carol@{world.domain}", "--connector", "mail",
           "--remote", f"carol@{BRIDGE_DOMAIN}", "--disabled")
    http_port = free_ports(1)[0]
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(http_port)})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mail connector mail: taking mail over LMTP", timeout=10)
    ferry.cli = cli
    ferry.metrics_url = f"http://127.0.0.1:{http_port}/metrics"
    return ferry


def metrics(ferry) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(ferry.metrics_url, timeout=10).read().decode()


def submit(mail_world, mail: EmailMessage) -> None:  # noqa: F811
    """Hands a mail to Postfix as a mail client's server would."""
    with smtplib.SMTP("127.0.0.1", mail_world.smtp_port, timeout=10) as smtp:
        smtp.send_message(mail)


def test_a_chat_becomes_mail_in_a_real_mailbox_and_the_reply_comes_back(gateway, mail_world, world):  # noqa: F811
    component = world.component_domain
    bob_jid = f"bob\\40example.com%mail@{component}"

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(bob_jid, "Lunch at *noon*?", id="l1")
            mails = await asyncio.to_thread(mail_world.wait_for_mail, "bob", 1)
            mail = mails[0]
            assert mail["From"] == "alice <alice@chat.test>"
            assert mail["To"] == "bob@example.com"
            assert mail["Subject"] == "Chat with alice"
            token = re.fullmatch(r"<ferry\.([0-9a-f]{48})@chat\.test>", mail["Message-ID"]).group(1)
            assert mail["Return-Path"] == f"<bounces+{token}@chat.test>", "the envelope sender Postfix kept"
            assert mail.get_content_type() == "multipart/alternative"
            assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Lunch at *noon*?\n"
            assert "<strong>noon</strong>" in mail.get_body(("html",)).get_content()

            reply = EmailMessage()
            reply["From"] = "Bob Example <bob@example.com>"
            reply["To"] = mail["From"]
            reply["Subject"] = "Re: " + mail["Subject"]
            reply["Message-ID"] = "<reply-1@example.com>"
            reply["In-Reply-To"] = mail["Message-ID"]
            reply["References"] = mail["Message-ID"]
            reply.set_content("Yes, see you there.\n\nOn Tue, 8 Dec 2026 at 10:00, alice <alice@chat.test> wrote:\n"
                              "> Lunch at *noon*?\n\n-- \nBob Example, ACME\n")
            await asyncio.to_thread(submit, mail_world, reply)
            message = await alice.next_message(timeout=20)
            assert message.get("from") == bob_jid
            assert message.findtext(q("body")) == "Yes, see you there.\n[4 lines of quote and signature not shown]"
            reply_to = message.find("{urn:xmpp:reply:0}reply")
            assert reply_to is not None and reply_to.get("id") == "l1", "a reply to alice's message (XEP-0461)"
            thread = message.findtext(q("thread"))
            assert thread, "the mail thread is an XMPP thread"
            assert message.find(q("subject")) is None, "the thread's subject came with its first mail"

            # bob writes again in the same mail thread: the same XMPP thread.
            again = EmailMessage()
            again["From"] = "bob@example.com"
            again["To"] = "alice@chat.test"
            again["Subject"] = "Re: Chat with alice"
            again["Message-ID"] = "<reply-2@example.com>"
            again["In-Reply-To"] = "<reply-1@example.com>"
            again["References"] = mail["Message-ID"] + " <reply-1@example.com>"
            again.set_content("Or rather half past.\n")
            await asyncio.to_thread(submit, mail_world, again)
            message = await alice.next_message(timeout=20)
            assert message.findtext(q("body")) == "Or rather half past."
            assert message.findtext(q("thread")) == thread
            assert message.find("{urn:xmpp:reply:0}reply").get("id") == "l1", "the newest of Ferry's it names"

    run(scenario())


def test_a_mail_postfix_bounces_comes_back_to_the_xmpp_sender_as_a_reply_to_that_message(
        gateway, mail_world, world):  # noqa: F811
    component = world.component_domain
    nobody = f"nobody\\40example.com%mail@{component}"

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(nobody, "anyone there?", id="lost1")
            told = await alice.next_message(timeout=30)
            assert told.get("from") == nobody
            reply = told.find("{urn:xmpp:reply:0}reply")
            assert reply is not None and reply.get("id") == "lost1", "shown beside the message that bounced"
            body = told.findtext(q("body"))
            assert body.startswith("Your message to nobody@example.com could not be delivered: 550 5.1.1 "
                                   "<nobody@example.com> User doesn't exist"), body
            assert body.endswith("(status 5.1.1, permanent: it will not be delivered)"), body
            await alice.no_message(1.0)

    run(scenario())
    gateway.wait_for_log(r'lmtp mail: mail .* from "MAILER-DAEMON@mx\.test" → 1 message', timeout=5)
    mail_world.wait_for_log(r"to=<bounces\+[0-9a-f]{48}@chat\.test>.*status=sent", timeout=5)
    counters = metrics(gateway)
    assert 'ferry_connector_events_total{connector="mail",event="delivery report"} 1' in counters, counters
    assert 'ferry_messages_out_total{connector="mail"} 1' in counters, counters


def test_mail_for_a_user_who_is_not_bridged_is_refused_and_postfix_tells_the_sender(
        gateway, mail_world, world):  # noqa: F811
    mail = EmailMessage()
    mail["From"] = "bob@example.com"
    mail["To"] = "carol@chat.test"
    mail["Subject"] = "hello carol"
    mail["Message-ID"] = "<to-carol@example.com>"
    mail.set_content("Are you there?\n")
    submit(mail_world, mail)
    bounce = mail_world.wait_for_mail("bob", 1)[0]
    assert bounce.get_content_type() == "multipart/report"
    status = [p for p in bounce.walk() if p.get_content_type() == "message/delivery-status"]
    assert status, bounce.as_string()
    report = status[0].as_string()
    assert "Final-Recipient: rfc822; carol@chat.test" in report
    assert "Status: 5.1.1" in report
    assert "550 5.1.1 <carol@chat.test> no such user here" in report
    assert 'ferry_connector_events_total{connector="mail",event="refused 5.1.1"} 1' in metrics(gateway)


def test_an_auto_reply_is_marked_and_shown_once_a_day_per_thread(gateway, mail_world, world):  # noqa: F811
    component = world.component_domain

    def out_of_office(number: int) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = "bob@example.com"
        mail["To"] = "alice@chat.test"
        mail["Subject"] = "Out of office"
        mail["Message-ID"] = f"<ooo-{number}@example.com>"
        mail["Auto-Submitted"] = "auto-replied"
        mail.set_content("I am away until Monday.\n")
        return mail

    async def scenario():
        async with Client(world, "alice") as alice:
            await asyncio.to_thread(submit, mail_world, out_of_office(1))
            message = await alice.next_message(timeout=20)
            assert message.get("from") == f"bob\\40example.com%mail@{component}"
            assert message.findtext(q("body")) == "[automatic reply] I am away until Monday."
            await asyncio.to_thread(submit, mail_world, out_of_office(2))
            await asyncio.to_thread(gateway.wait_for_log, r'mail "ooo-2@example\.com".* already seen', 20)
            await alice.no_message(1.0)

    run(scenario())


def test_mail_that_comes_while_postgresql_is_down_waits_in_postfix_and_arrives_once(
        gateway, mail_world, world, pg_world):  # noqa: F811
    mail = EmailMessage()
    mail["From"] = "bob@example.com"
    mail["To"] = "alice@chat.test"
    mail["Subject"] = "while the store was down"
    mail["Message-ID"] = "<pg-down@example.com>"
    mail.set_content("Did this survive?\n")

    async def scenario():
        async with Client(world, "alice") as alice:
            await asyncio.to_thread(pg_world.stop)
            try:
                await asyncio.to_thread(submit, mail_world, mail)
                # Ferry cannot commit it: Postfix is told 451 and keeps the mail in its queue.
                await asyncio.to_thread(mail_world.wait_for_log,
                                        r"to=<alice@chat\.test>.*status=deferred.*451 4\.3\.0", 40)
            finally:
                await asyncio.to_thread(pg_world.start)
            message = await alice.next_message(timeout=60)
            assert message.findtext(q("body")) == "Did this survive?"
            await alice.no_message(2.0)

    run(scenario(), timeout=120)
    mail_world.wait_for_log(r"to=<alice@chat\.test>.*status=sent \(250 2\.0\.0", timeout=5)


def test_a_client_turns_a_typed_mail_address_into_a_contact_and_subscribes_to_it(gateway, world):
    component = world.component_domain
    disco = "{http://jabber.org/protocol/disco#info}"
    gw = "{jabber:iq:gateway}"
    roster = "{jabber:iq:roster}"

    async def scenario():
        async with Client(world, "alice") as alice:
            info = await alice.iq("get", component, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
            assert ("gateway", "smtp") in [(i.get("category"), i.get("type")) for i in info.iter(disco + "identity")]
            assert "jabber:iq:gateway" in [f.get("var") for f in info.iter(disco + "feature")]

            asked = await alice.iq("get", component, "<query xmlns='jabber:iq:gateway'/>")
            assert asked.findtext(f"{gw}query/{gw}prompt") == "Mail address"
            told = await alice.iq("set", component,
                                  "<query xmlns='jabber:iq:gateway'><prompt> carol.o@example.com </prompt></query>")
            contact = told.findtext(f"{gw}query/{gw}jid")
            assert contact == f"carol.o\\40example.com%mail@{component}"
            refused = await alice.iq("set", component,
                                     "<query xmlns='jabber:iq:gateway'><prompt>not an address</prompt></query>")
            assert refused.get("type") == "error"
            assert refused.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}not-acceptable") \
                is not None

            # The contact goes into alice's roster: her subscription is approved at once, not left pending.
            await alice.send_raw(f"<presence type='subscribe' to='{contact}'/>")
            subscription = None
            for _ in range(50):
                items = await alice.iq("get", world.jid("alice"), "<query xmlns='jabber:iq:roster'/>")
                found = [i for i in items.iter(roster + "item") if i.get("jid") == contact]
                subscription = found[0].get("subscription") if found else None
                if subscription in ("to", "both"):
                    break
                await asyncio.sleep(0.1)
            assert subscription in ("to", "both")

    run(scenario())
