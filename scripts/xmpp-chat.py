#!/usr/bin/python3
"""Logs in as an XMPP user, optionally sends one chat message, and prints the messages that arrive.

    scripts/xmpp-chat.py --jid alice@localhost --password alicepass --port 5222 \
        [--send 'ops%opslog@ferry.localhost' 'hello ops'] [--listen SECONDS]

Used by the demo (scripts/demo.sh) to show messages crossing Ferry in both directions. Any XMPP client
(Gajim, Dino, profanity) logged in to the same server shows the same.
"""

import argparse
import asyncio

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
    ap.add_argument("--listen", type=float, default=5.0, help="seconds to print arriving messages")
    args = ap.parse_args()
    chat = Chat(args.jid, args.password)
    chat.connect((args.host, args.port), disable_starttls=True, force_starttls=False)
    try:
        await asyncio.wait_for(chat.ready, 20)
        if args.send:
            chat.send_message(mto=args.send[0], mbody=args.send[1], mtype="chat")
            print(f"--- sent to {args.send[0]}: {args.send[1]}\n", flush=True)
        await asyncio.sleep(args.listen)
    finally:
        chat.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
