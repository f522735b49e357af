"""A minimal XMPP c2s client for load generation: stream, SASL PLAIN, resource binding, then IQ requests kept
in flight by a Load. Parses with pyexpat and no namespace processing; its CPU per round trip stays well below
the server's. Used by bench/e2e_ping.py.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import xml.parsers.expat


class Client(asyncio.Protocol):
    """Just enough XMPP: stream, SASL PLAIN, bind; then IQ requests with at most `inflight` outstanding."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.waiters: list[tuple[str, asyncio.Future]] = []  # (element name at depth 2, future)
        self.iq_waiters: dict[str, asyncio.Future] = {}
        self.depth = 0
        self.current: tuple[str, dict] | None = None
        self.load: Load | None = None
        self.out: list[bytes] = []
        self.new_parser()

    def new_parser(self) -> None:
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.buffer_text = False
        self.parser.StartElementHandler = self.on_start
        self.parser.EndElementHandler = self.on_end
        self.depth = 0

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.parser.Parse(data, False)
        if self.out:
            self.transport.write(b"".join(self.out))
            self.out.clear()

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)
        for _, waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionError("the server closed the connection"))
        for waiter in self.iq_waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("the server closed the connection"))

    # expat
    def on_start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        if self.depth == 2:
            self.current = (name, attrs)

    def on_end(self, name: str) -> None:
        self.depth -= 1
        if self.depth != 1:
            return
        name, attrs = self.current
        name = name.rpartition(":")[2]  # no namespace processing: "stream:features" -> "features"
        if name == "iq":
            ident = attrs.get("id", "")
            if self.load is not None and ident.startswith("L"):
                self.load.completed(self, ident, attrs.get("type") == "result")
                return
            waiter = self.iq_waiters.pop(ident, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(attrs.get("type"))
            return
        for i, (wanted, waiter) in enumerate(self.waiters):
            if name in wanted.split("|"):
                del self.waiters[i]
                if not waiter.done():
                    waiter.set_result(name)
                break

    # helpers
    def send(self, text: str) -> None:
        self.transport.write(text.encode())

    async def expect(self, names: str, timeout: float) -> str:
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append((names, waiter))
        return await asyncio.wait_for(waiter, timeout)

    async def iq(self, text_with_id: str, ident: str, timeout: float) -> str:
        waiter = asyncio.get_running_loop().create_future()
        self.iq_waiters[ident] = waiter
        self.send(text_with_id)
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self.iq_waiters.pop(ident, None)

    def open_stream(self) -> None:
        self.send(f"<?xml version='1.0'?><stream:stream to='{self.host}' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")

    async def login(self, user: str, password: str, timeout: float = 10) -> None:
        # Register the waiter before sending, so a fast answer is never missed.
        features = asyncio.ensure_future(self.expect("features", timeout))
        self.open_stream()
        await features
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        outcome = asyncio.ensure_future(self.expect("success|failure", timeout))
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        if await outcome != "success":
            raise RuntimeError("SASL PLAIN login failed")
        # The chunk holding <success/> has been parsed by now and the server says nothing until we restart.
        self.new_parser()
        features = asyncio.ensure_future(self.expect("features", timeout))
        self.open_stream()
        await features
        kind = await self.iq("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                             "<resource>bench</resource></bind></iq>", "bind1", timeout)
        if kind != "result":
            raise RuntimeError(f"resource binding failed: {kind}")

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send("</stream:stream>")
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), 2)
            except asyncio.TimeoutError:
                pass
            self.transport.close()


class Load:
    """Keeps `inflight` requests outstanding until told to stop; records each latency."""

    def __init__(self, template: str, inflight: int) -> None:
        self.template = template
        self.inflight = inflight
        self.sent_at: dict[str, int] = {}
        self.latencies_ns: list[int] = []
        self.errors = 0
        self.count = 0
        self.next_id = 0
        self.sending = True
        self.drained = asyncio.get_running_loop().create_future()

    def request(self) -> bytes:
        self.next_id += 1
        ident = f"L{self.next_id}"
        self.sent_at[ident] = time.perf_counter_ns()
        return self.template.format(id=ident).encode()

    def start(self, client: Client) -> None:
        client.transport.write(b"".join(self.request() for _ in range(self.inflight)))

    def completed(self, client: Client, ident: str, ok: bool) -> None:
        sent = self.sent_at.pop(ident, None)
        if sent is None:
            return
        self.latencies_ns.append(time.perf_counter_ns() - sent)
        self.count += 1
        if not ok:
            self.errors += 1
        if self.sending:
            client.out.append(self.request())  # written once the whole chunk is parsed
        elif not self.sent_at and not self.drained.done():
            self.drained.set_result(None)

    def reset_counters(self) -> None:
        self.latencies_ns.clear()
        self.count = 0
        self.errors = 0
