#!/usr/bin/python3
"""A minimal HTTP/1.1 sink on loopback for the XMPP → webhook benchmark: keep-alive, answers every request
201 {"id": n}, and appends one JSON line per request to a file, shaped like the log connector's lines
({"message": {"text", "timestamp"}, "delivered_at"}) so that bench/e2e_outbox.py analyses both alike.

Usage: /usr/bin/python3 bench/http_sink.py PORT OUT_FILE
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Sink(asyncio.Protocol):
    count = 0

    def __init__(self, out) -> None:
        self.out = out
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = []
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            if len(self.buffer) < head_end + 4 + length:
                break
            body = self.buffer[head_end + 4:head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length:]
            Sink.count += 1
            try:
                doc = json.loads(body)
                self.out.write(json.dumps({"message": {"text": doc.get("text"), "timestamp": doc.get("timestamp")},
                                           "delivered_at": now_iso()}) + "\n")
            except ValueError:
                pass
            reply = b'{"id":%d}' % Sink.count
            answers.append(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(reply), reply))
        if answers:
            self.out.flush()
            self.transport.write(b"".join(answers))


async def main(port: int, path: str) -> None:
    with open(path, "a", buffering=1 << 16) as out:
        server = await asyncio.get_running_loop().create_server(lambda: Sink(out), "127.0.0.1", port)
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
