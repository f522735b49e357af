"""A relay for Ferry's outbound mail in tests: aiosmtpd (Debian's python3-aiosmtpd, a complete SMTP server)
on a free loopback port, keeping what it accepts. It can refuse a recipient for good (550) or once for now
(451, then accept), which a real Postfix cannot be told to do for one mail. Postfix and Dovecot carry the
mail end to end in the mail-gateway tests.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from world_base import HOST, free_ports


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: tuple

    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class SmtpSink:
    refuse: set[str] = field(default_factory=set)      # recipients answered 550 5.1.1
    defer_once: set[str] = field(default_factory=set)  # recipients answered 451 4.3.0 the first time
    defer_for: dict[str, float] = field(default_factory=dict)  # answered 451 for so many seconds from the first try
    received: list[Received] = field(default_factory=list)
    sessions: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._first_try: dict[str, float] = {}
        self.port = free_ports(1)[0]
        self._controller = Controller(self, hostname=HOST, port=self.port)

    def __enter__(self) -> "SmtpSink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self._lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        with self._lock:
            if address in self.defer_once:
                self.defer_once.discard(address)
                return "451 4.3.0 try again later"
            if address in self.defer_for:
                first = self._first_try.setdefault(address, time.monotonic())
                if time.monotonic() - first < self.defer_for[address]:
                    return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                          or envelope.content, session.peer))
        return "250 2.0.0 OK: queued"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self._lock:
            return list(self.received)
