"""The common part of the service fakes: a threaded HTTP server on loopback that records every request and
answers through the service's own handler, unless the test has scripted the next answers (a rate limit, an
outage, a hang)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str          # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self):
        return json.loads(self.body)

    def json_ok(self) -> bool:
        """True unless the answer was a JSON document with "ok": false (Slack's and Telegram's API errors)."""
        return getattr(self, "ok", True)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or hanging service)


def json_answer(status: int, document, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


def text_answer(status: int, text: str) -> Answer:
    return Answer(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


class FakeService:
    """Subclasses implement `answer(request) -> Answer` following the service's API documentation."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripted: list[Answer] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(self.command, parts.path, parse_qs(parts.query),
                                   {k.lower(): v for k, v in self.headers.items()}, body)
                request.gone = self._client_gone  # type: ignore[attr-defined]
                request.received_at = time.monotonic()  # type: ignore[attr-defined]
                answer = fake._next(request)
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def _client_gone(self) -> bool:
                """True once the client closed its connection (a killed process): a long poll ends then."""
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            do_POST = do_PUT = do_GET = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *answers: Answer) -> None:
        """The next requests get these answers, in order, whatever they are; then the service answers again."""
        with self._lock:
            self._scripted.extend(answers)

    def taken(self) -> list[Recorded]:
        """The requests the service itself accepted (2xx, not a scripted answer), in order."""
        with self._lock:
            return [r for r in self.requests
                    if getattr(r, "status", 0) // 100 == 2 and not getattr(r, "scripted", False)]

    def counts(self, request: Recorded) -> bool:
        """Whether wait_for counts this request (a service leaves out lookups, such as Slack's users.info)."""
        return True

    def wait_for(self, count: int, timeout: float = 15.0, accepted_only: bool = True) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in (self.taken() if accepted_only else list(self.requests)) if self.counts(r)]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{type(self).__name__}: {len(got)} requests, expected {count}: "
                             f"{[(r.method, r.path, r.body[:200]) for r in self.requests]}")

    def _next(self, request: Recorded) -> Answer:
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        answer = scripted or self.answer(request)
        request.status = answer.status  # type: ignore[attr-defined]
        request.scripted = scripted is not None  # type: ignore[attr-defined]
        try:
            request.ok = json.loads(answer.body).get("ok", True) is not False  # type: ignore[attr-defined]
        except (ValueError, AttributeError):
            request.ok = True  # type: ignore[attr-defined]
        with self._lock:
            self.requests.append(request)
        return answer

    def answer(self, request: Recorded) -> Answer:  # pragma: no cover - subclasses
        raise NotImplementedError
