"""A Matrix homeserver's client-server endpoint for sending, as spec.matrix.org (v1.x) documents it:
PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} with `Authorization: Bearer`; 200 {"event_id"};
the same access token and txnId give the same event_id again (idempotent); 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN;
403 M_FORBIDDEN for a room the user is not in; 429 M_LIMIT_EXCEEDED with retry_after_ms. Also an application
service transaction as the homeserver sends it to the bridge (PUT /_matrix/app/v1/transactions/{txnId})."""

from __future__ import annotations

import itertools
from urllib.parse import unquote

from fake_http import Answer, FakeService, Recorded, json_answer

ROOM = "!jEsUZKDJdhlrceRyVU:example.org"


def rate_limited(retry_after_ms: int = 500) -> Answer:
    return json_answer(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests",
                             "retry_after_ms": retry_after_ms})


def room_message(body: str, sender: str = "@alice:example.org", room: str = ROOM,
                 event_id: str = "$143273582443PhrSn:example.org", formatted_body: str | None = None) -> dict:
    """A text message; with `formatted_body`, as Element sends Markdown: the typed text as body, its HTML as
    formatted_body (format org.matrix.custom.html)."""
    content = {"msgtype": "m.text", "body": body}
    if formatted_body is not None:
        content.update({"format": "org.matrix.custom.html", "formatted_body": formatted_body})
    return {"type": "m.room.message", "room_id": room, "sender": sender, "event_id": event_id,
            "origin_server_ts": 1432735824653, "unsigned": {"age": 1234}, "content": content}


def edit(original: str, body: str, sender: str = "@alice:example.org", room: str = ROOM,
         event_id: str = "$edit1:example.org") -> dict:
    """An edit (event replacement, rel_type m.replace): the new content under m.new_content, a "* " fallback
    body for clients that know no edits."""
    return {"type": "m.room.message", "room_id": room, "sender": sender, "event_id": event_id,
            "origin_server_ts": 1432735900000,
            "content": {"msgtype": "m.text", "body": f" * {body}",
                        "m.new_content": {"msgtype": "m.text", "body": body},
                        "m.relates_to": {"rel_type": "m.replace", "event_id": original}}}


def redaction(original: str, sender: str = "@alice:example.org", room: str = ROOM,
              event_id: str = "$redaction1:example.org") -> dict:
    """An m.room.redaction as room version 11 sends it (`redacts` in the content) and earlier ones (beside)."""
    return {"type": "m.room.redaction", "room_id": room, "sender": sender, "event_id": event_id,
            "origin_server_ts": 1432736000000, "redacts": original, "content": {"redacts": original}}


# GET /_matrix/client/v3/profile/{userId}/displayname answers for these; others are M_NOT_FOUND.
DISPLAY_NAMES = {"@alice:example.org": "Alice Liddell"}


class Matrix(FakeService):
    def __init__(self, token: str = "as_token_ferry", rooms: tuple[str, ...] = (ROOM,)) -> None:
        self.token = token
        self.rooms = set(rooms)
        self._events = itertools.count(1)
        self._sent: dict[tuple[str, str], str] = {}
        self.redacted: list[str] = []
        super().__init__()

    def answer(self, request: Recorded) -> Answer:
        parts = request.path.split("/")
        if parts[1:5] == ["_matrix", "client", "v3", "profile"] and len(parts) == 7 and request.method == "GET":
            return self._display_name(request, unquote(parts[5]), parts[6])
        # ['', '_matrix', 'client', 'v3', 'rooms', roomId, 'send', eventType, txnId]
        # ['', '_matrix', 'client', 'v3', 'rooms', roomId, 'redact', eventId, txnId]
        if (len(parts) != 9 or parts[1:5] != ["_matrix", "client", "v3", "rooms"] or parts[6] not in ("send", "redact")
                or request.method != "PUT"):
            return json_answer(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
        auth = request.headers.get("authorization", "")
        if not auth:
            return json_answer(401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
        if auth != f"Bearer {self.token}":
            return json_answer(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.",
                                     "soft_logout": False})
        room, txn = unquote(parts[5]), unquote(parts[8])
        if room not in self.rooms:
            return json_answer(403, {"errcode": "M_FORBIDDEN", "error": "User not in room"})
        try:
            content = request.json()
        except ValueError:
            return json_answer(400, {"errcode": "M_NOT_JSON", "error": "Content not JSON."})
        if parts[6] == "redact":
            target = unquote(parts[7])
            if target not in self._sent.values():
                return json_answer(404, {"errcode": "M_NOT_FOUND", "error": "Event not found"})
            key = (self.token, "redact:" + txn)
            if key not in self._sent:
                self._sent[key] = f"$ev{next(self._events)}:example.org"
                self.redacted.append(target)
            return json_answer(200, {"event_id": self._sent[key]})
        if not isinstance(content.get("body"), str):
            return json_answer(400, {"errcode": "M_BAD_JSON", "error": "body must be a string"})
        key = (self.token, txn)
        if key not in self._sent:
            self._sent[key] = f"$ev{next(self._events)}:example.org"
        return json_answer(200, {"event_id": self._sent[key]})

    def _display_name(self, request: Recorded, user: str, field: str) -> Answer:
        if field != "displayname":
            return json_answer(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."})
        if user not in DISPLAY_NAMES:
            return json_answer(404, {"errcode": "M_NOT_FOUND", "error": "Profile was not found"})
        return json_answer(200, {"displayname": DISPLAY_NAMES[user]})

    def events(self) -> list[tuple[str, str, dict]]:
        """(room, txnId, content) of every accepted send, repeats of one txnId included."""
        out = []
        for r in self.taken():
            parts = r.path.split("/")
            if parts[6] != "send":
                continue
            out.append((unquote(parts[5]), unquote(parts[8]), r.json()))
        return out
