#!/usr/bin/python3
"""Logs in as an XMPP user, optionally sends one chat message or joins a room and says something there, and
prints the messages that arrive.

    scripts/xmpp-chat.py --jid alice@localhost --password alicepass --port 5222 \
        [--send 'ops%opslog@ferry.localhost' 'hello ops'] [--room ROOM@conference.localhost [--say TEXT]] \
        [--listen SECONDS]

Used by the demo (scripts/demo.sh) to show messages crossing Ferry in both directions. Any XMPP client
(Gajim, Dino, profanity) logged in to the same server shows the same.
"""

import argparse
import asyncio
import xml.etree.ElementTree as ET

import slixmpp


class Chat(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ready = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_session)
        self.add_event_handler("failed_auth", lambda _: self.ready.set_exception(SystemExit("login failed")))
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_error)

    async def on_session(self, _):
        self.send_presence()  # available: messages to the bare JID reach this session
        await self.get_roster()
        if not self.ready.done():
            self.ready.set_result(True)

    async def join(self, room, nick):
        """Joins `room` as `nick` without its history, and waits until the room says we are in."""
        joined = asyncio.get_event_loop().create_future()

        def on_presence(presence):
            if presence["from"].bare == room and presence["from"].resource == nick and not joined.done():
                joined.set_result(presence["type"] != "error")

        self.add_event_handler("presence", on_presence)
        presence = self.make_presence(pto=f"{room}/{nick}")
        presence.xml.append(ET.fromstring("<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>"))
        presence.send()
        try:
            if not await asyncio.wait_for(joined, 10):
                raise SystemExit(f"cannot join {room}")
        finally:
            self.del_event_handler("presence", on_presence)
        print(f"--- joined {room} as {nick}\n", flush=True)

    def on_message(self, msg):
        if msg["body"]:
            print(f"--- {msg['type']} message from {msg['from']}:\n{msg['body']}\n", flush=True)

    def on_error(self, msg):
        err = msg["error"]
        print(f"--- error from {msg['from']}: {err['type']}/{err['condition']} {err['text']}\n", flush=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jid", default="alice@localhost")
    ap.add_argument("--password", default="alicepass")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("--send", nargs=2, metavar=("TO", "BODY"), help="send one chat message")
    ap.add_argument("--room", help="join this MUC room (as the user's local part) and print what is said there")
    ap.add_argument("--say", help="with --room: say this in the room once joined")
    ap.add_argument("--listen", type=float, default=5.0, help="seconds to print arriving messages")
    args = ap.parse_args()
    chat = Chat(args.jid, args.password)
    chat.connect((args.host, args.port), disable_starttls=True, force_starttls=False)
    try:
        await asyncio.wait_for(chat.ready, 20)
        if args.send:
            chat.send_message(mto=args.send[0], mbody=args.send[1], mtype="chat")
            print(f"--- sent to {args.send[0]}: {args.send[1]}\n", flush=True)
        if args.room:
            await chat.join(args.room, args.jid.split("@")[0])
            if args.say:
                chat.send_message(mto=args.room, mbody=args.say, mtype="groupchat")
                print(f"--- said in {args.room}: {args.say}\n", flush=True)
        await asyncio.sleep(args.listen)
    finally:
        chat.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
