#!/usr/bin/python3
"""Logs in as an XMPP user and asks Ferry what every good XMPP entity answers; prints the replies.

    scripts/xmpp-probe.py --jid alice@localhost --password alicepass --port 5222 ferry.localhost

Used by the demo (scripts/demo.sh) to show a message crossing: disco#info, version, time, a ping with its
round-trip time, and the error a message to an unmapped address gets. Any XMPP client (Gajim, Dino,
profanity) logged in to the same server shows the same with its service-discovery window.
"""

import argparse
import asyncio
import time
import xml.etree.ElementTree as ET

import slixmpp


def strip(tag: str) -> str:
    return tag.split("}", 1)[-1]


class Probe(slixmpp.ClientXMPP):
    def __init__(self, jid, password, target):
        super().__init__(jid, password)
        self.target = target
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_session)
        self.add_event_handler("failed_auth", lambda _: self.done.set_exception(SystemExit("login failed")))

    async def ask(self, payload: str):
        iq = self.make_iq_get(ito=self.target)
        iq.append(ET.fromstring(payload))
        started = time.monotonic()
        try:
            reply = await iq.send(timeout=5)
        except slixmpp.exceptions.IqError as e:
            reply = e.iq
        return reply.xml, (time.monotonic() - started) * 1000

    async def on_session(self, _):
        try:
            info, _ = await self.ask("<query xmlns='http://jabber.org/protocol/disco#info'/>")
            query = info[0]
            for item in query:
                if strip(item.tag) == "identity":
                    print(f"identity : {item.get('category')}/{item.get('type')} \"{item.get('name')}\"")
            print("features : " + ", ".join(i.get("var") for i in query if strip(i.tag) == "feature"))
            version, _ = await self.ask("<query xmlns='jabber:iq:version'/>")
            print("version  : " + " ".join((c.text or "") for c in version[0]))
            now, _ = await self.ask("<time xmlns='urn:xmpp:time'/>")
            print("time     : " + " ".join(f"{strip(c.tag)}={c.text}" for c in now[0]))
            _, rtt = await self.ask("<ping xmlns='urn:xmpp:ping'/>")
            print(f"ping     : answered in {rtt:.1f} ms")
            unknown, _ = await self.ask("<query xmlns='urn:example:nothing'/>")
            error = next((c for c in unknown if strip(c.tag) == "error"), None)
            conditions = [strip(c.tag) for c in error] if error is not None else ["(no error!)"]
            print(f"unknown  : an unknown request gets type={unknown.get('type')} "
                  f"{error.get('type') if error is not None else ''}/{conditions[0]}")
            self.done.set_result(True)
        except Exception as e:  # report any failure, then leave
            self.done.set_exception(e)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jid", default="alice@localhost")
    ap.add_argument("--password", default="alicepass")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("target", help="the component domain, e.g. ferry.localhost")
    args = ap.parse_args()
    probe = Probe(args.jid, args.password, args.target)
    probe.connect((args.host, args.port), disable_starttls=True, force_starttls=False)
    try:
        await asyncio.wait_for(probe.done, 20)
    finally:
        probe.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
