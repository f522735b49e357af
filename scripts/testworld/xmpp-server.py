#!/usr/bin/python3
"""Starts one private XMPP server (Prosody or ejabberd) with Ferry's component configured.

    scripts/testworld/xmpp-server.py {prosody|ejabberd} DIR [--secret S] [--c2s-port N] [--component-port N]

Prints KEY=VALUE lines (HOST, DOMAIN, C2S_PORT, COMPONENT_DOMAIN, COMPONENT_PORT,
COMPONENT_SECRET, ALICE_JID, ALICE_PASSWORD, BOB_JID, BOB_PASSWORD, LOG, ...), the last one being
READY=1, then stays in the foreground until SIGTERM/SIGINT/SIGHUP, when it kills the server and
exits 0. Exits 1 if the server dies on its own. DIR is created if needed; a DIR used before keeps
its ports, secret and users. For ejabberd, DIR and its parents must be traversable by the
`ejabberd` user (a directory under /tmp is).

Runs as root (Prosody with run_as_root, ejabberd switched to its own user). The implementation
is tests/integration/world.py, shared with the integration tests.
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))

import world  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=sorted(world.SERVERS))
    ap.add_argument("dir")
    ap.add_argument("--secret", default=world.DEFAULT_SECRET, help="component secret")
    ap.add_argument("--c2s-port", type=int, default=0, help="client port (default: a free one)")
    ap.add_argument("--component-port", type=int, default=0, help="component port (default: a free one)")
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    if args.kind == "ejabberd":
        os.chmod(args.dir, os.stat(args.dir).st_mode | 0o055)
    server = world.make_server(args.kind, args.dir, secret=args.secret,
                               c2s_port=args.c2s_port, component_port=args.component_port)

    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    try:
        server.start()
        for key, value in server.info().items():
            print(f"{key}={value}")
        print("READY=1", flush=True)
        while not stop:
            if not server.running():
                print(f"xmpp-server: {args.kind} exited on its own:\n{server.log_tail()}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    except world.ServerError as e:
        print(f"xmpp-server: {e}", file=sys.stderr)
        return 1
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
