"""A real XMPP client (slixmpp) for the integration tests, with a timeout on every step.

Use inside a coroutine:

    async with Client(server, "alice") as alice:
        reply = await alice.iq("get", server.component_domain, "<ping xmlns='urn:xmpp:ping'/>")

Replies are returned as plain ElementTree elements (errors too), so tests assert on XML, not on
slixmpp's stanza plugins.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from world import Server

STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
CLIENT_NS = "jabber:client"


def run(coro, timeout: float = 60.0):
    """Runs one test scenario on a fresh event loop, bounded by `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def q(tag: str, ns: str = CLIENT_NS) -> str:
    return f"{{{ns}}}{tag}"


def stanza_error(elem: ET.Element) -> tuple[str | None, str | None]:
    """(type, defined condition) of a stanza's <error/>, or (None, None) if it has none."""
    err = elem.find(q("error"))
    if err is None:
        return None, None
    conditions = [c.tag.split("}", 1)[1] for c in err if c.tag.startswith("{%s}" % STANZAS_NS) and
                  not c.tag.endswith("}text")]
    return err.get("type"), (conditions[0] if conditions else None)


class Client:
    """A logged-in slixmpp client on one of the world's users."""

    def __init__(self, server: Server, user: str, resource: str = "test") -> None:
        self.server = server
        self.jid = f"{server.jid(user)}/{resource}"
        self.xmpp = slixmpp.ClientXMPP(
            self.jid, server.password(user),
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
        )
        self.message_errors: asyncio.Queue = asyncio.Queue()
        self.xmpp.add_event_handler("message_error", lambda m: self.message_errors.put_nowait(m))
        self.messages: asyncio.Queue = asyncio.Queue()
        self.xmpp.add_event_handler("message", self._on_message)
        self.receipts: asyncio.Queue = asyncio.Queue()
        self.xmpp.register_handler(slixmpp.xmlstream.handler.Callback(
            "receipt", slixmpp.xmlstream.matcher.MatchXPath("{jabber:client}message/{urn:xmpp:receipts}received"),
            lambda m: self.receipts.put_nowait(m.xml.find("{urn:xmpp:receipts}received").get("id"))))

    def _on_message(self, msg) -> None:
        # Messages the server kept offline for this user (stamped with a delay from the server itself) are
        # left over from an earlier test, which let them arrive while nobody was logged in: not this test's.
        delay = msg.xml.find("{urn:xmpp:delay}delay")
        if delay is not None and delay.get("from") == self.server.domain:
            return
        if msg["body"]:
            self.messages.put_nowait(msg.xml)

    async def login(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def fail(reason):
            if not ready.done():
                ready.set_exception(AssertionError(f"{self.jid}: {reason}"))

        self.xmpp.add_event_handler("session_start", lambda _: ready.done() or ready.set_result(True))
        self.xmpp.add_event_handler("failed_auth", lambda _: fail("authentication failed"))
        self.xmpp.add_event_handler("connection_failed", lambda e: fail(f"connection failed: {e}"))
        self.xmpp.connect((self.server.host, self.server.c2s_port), disable_starttls=True,
                          force_starttls=False)
        try:
            await asyncio.wait_for(ready, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.jid} not logged in within {timeout} s") from None
        # Available: without initial presence the server keeps messages to the bare JID offline. The IQ
        # round trip after it makes sure the server has handled the presence before the test goes on.
        self.xmpp.send_presence()
        await self.iq("get", self.server.domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.xmpp.disconnect(wait=1.0), 3)
        except (asyncio.TimeoutError, Exception):
            self.xmpp.abort()

    async def __aenter__(self) -> "Client":
        await self.login()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def iq(self, type_: str, to: str, payload: str, timeout: float = 5.0) -> ET.Element:
        """Sends an IQ get/set with `payload` (XML text) to `to`; returns the reply (result or error)."""
        iq = self.xmpp.make_iq_get(ito=to) if type_ == "get" else self.xmpp.make_iq_set(ito=to)
        iq.append(ET.fromstring(payload))
        try:
            reply = await iq.send(timeout=timeout)
        except IqError as e:
            reply = e.iq
        except IqTimeout:
            raise AssertionError(f"no reply from {to} to IQ {type_} {payload} within {timeout} s") from None
        return reply.xml

    async def send_message(self, to: str, body: str, id: str | None = None, receipt: bool = False) -> None:
        """Sends a chat message; with receipt=True it asks for an XEP-0184 receipt (needs an id)."""
        msg = self.xmpp.make_message(mto=to, mbody=body, mtype="chat")
        if id is not None:
            msg["id"] = id
        if receipt:
            msg.xml.append(ET.fromstring("<request xmlns='urn:xmpp:receipts'/>"))
        msg.send()

    async def send_raw(self, xml: str) -> None:
        """Sends a stanza written out as XML (corrections, retractions, replies)."""
        self.xmpp.send_raw(xml)

    async def send_groupchat(self, room: str, body: str) -> None:
        """Says `body` in a MUC room we have joined."""
        self.xmpp.make_message(mto=room, mbody=body, mtype="groupchat").send()

    async def next_receipt(self, timeout: float = 5.0) -> str:
        """The id of the next XEP-0184 <received/> that arrives."""
        try:
            return await asyncio.wait_for(self.receipts.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no receipt within {timeout} s") from None

    async def join_room(self, room: str, nick: str, timeout: float = 10.0) -> None:
        """Joins a MUC room (XEP-0045) and waits for the room's presence of ourselves (status 110)."""
        loop = asyncio.get_running_loop()
        joined = loop.create_future()

        def on_presence(pres):
            if pres["from"].bare == room and pres["from"].resource == nick and not joined.done():
                if pres["type"] == "error":
                    joined.set_exception(AssertionError(f"cannot join {room}: {pres}"))
                else:
                    joined.set_result(True)

        self.xmpp.add_event_handler("presence", on_presence)
        presence = self.xmpp.make_presence(pto=f"{room}/{nick}")
        presence.xml.append(ET.fromstring("<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>"))
        presence.send()
        try:
            await asyncio.wait_for(joined, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.jid}: not in {room} within {timeout} s") from None
        finally:
            self.xmpp.del_event_handler("presence", on_presence)

    async def next_message(self, timeout: float = 10.0) -> ET.Element:
        """The next chat or normal message with a body that arrives."""
        try:
            return await asyncio.wait_for(self.messages.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.jid}: no message within {timeout} s") from None

    async def no_message(self, seconds: float) -> None:
        """Fails if a message with a body arrives within `seconds`."""
        try:
            msg = await asyncio.wait_for(self.messages.get(), seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"{self.jid}: unexpected message {ET.tostring(msg, encoding='unicode')}")

    async def next_message_error(self, timeout: float = 5.0) -> ET.Element:
        """The next <message type='error'/> received."""
        try:
            msg = await asyncio.wait_for(self.message_errors.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no error message within {timeout} s") from None
        return msg.xml
