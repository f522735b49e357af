"""The Telegram Bot API as core.telegram.org/bots/api documents it: POST /bot<token>/sendMessage with JSON;
{"ok": true, "result": Message}; errors {"ok": false, "error_code", "description"} (401 Unauthorized, 400 "Bad
Request: chat not found", 400 "can't parse entities" for HTML outside its tag subset); 429 with
"parameters": {"retry_after": seconds}. Also the Update objects a webhook receives, and getUpdates long polling
(updates below `offset` are confirmed and forgotten; without new updates the call waits up to `timeout` seconds;
409 Conflict while a webhook is set or another getUpdates call is being answered: one bot instance polls)."""

from __future__ import annotations

import itertools
import re
import threading
import time

from fake_http import Answer, FakeService, Recorded, json_answer

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
CHAT = -1001234567890
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
                "blockquote", "tg-emoji"}


def rate_limited(retry_after: int = 1) -> Answer:
    return json_answer(429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {retry_after}",
                             "parameters": {"retry_after": retry_after}})


def update(text: str, update_id: int = 10000, username: str = "alice_tg", first_name: str = "Alice",
           chat: int = CHAT, is_bot: bool = False) -> dict:
    return {"update_id": update_id,
            "message": {"message_id": 1365, "date": 1441645532,
                        "from": {"id": 1111111, "is_bot": is_bot, "first_name": first_name, "username": username},
                        "chat": {"id": chat, "title": "Ops", "type": "supergroup"}, "text": text}}


def edited(text: str, message_id: int = 1365, update_id: int = 10002, username: str = "alice_tg",
           first_name: str = "Alice", chat: int = CHAT) -> dict:
    """An update carrying `edited_message`: the message as it is now, with its edit_date."""
    return {"update_id": update_id,
            "edited_message": {"message_id": message_id, "date": 1441645532, "edit_date": 1441645600,
                               "from": {"id": 1111111, "is_bot": False, "first_name": first_name,
                                        "username": username},
                               "chat": {"id": chat, "title": "Ops", "type": "supergroup"}, "text": text}}


class Telegram(FakeService):
    def __init__(self, chats: tuple[int, ...] = (CHAT,)) -> None:
        self.chats = set(chats)
        self._ids = itertools.count(100)
        self._updates: list[dict] = []
        self._changed = threading.Condition()
        self.webhook_set = False
        self.offsets: list[int | None] = []  # the offset of every getUpdates call, in order
        self.polls_at: list[float] = []  # time.monotonic() of every getUpdates call, in order
        self.polling = 0  # getUpdates calls being answered now
        self.most_polling = 0  # the most ever answered at once
        self.conflicts = 0  # getUpdates calls refused because another was running
        super().__init__()

    def push(self, *updates: dict) -> None:
        """Updates waiting for the bot (what a webhook would have received)."""
        with self._changed:
            self._updates.extend(updates)
            self._changed.notify_all()

    def unconfirmed(self) -> list[int]:
        with self._changed:
            return [u["update_id"] for u in self._updates]

    def _get_updates(self, payload: dict, gone) -> Answer:
        if self.webhook_set:
            return json_answer(409, {"ok": False, "error_code": 409,
                                     "description": "Conflict: can't use getUpdates method while webhook is active; "
                                                    "use deleteWebhook to delete the webhook first"})
        offset = payload.get("offset")
        timeout = min(int(payload.get("timeout") or 0), 50)
        deadline = time.monotonic() + timeout
        with self._changed:
            # One bot instance polls at a time: Telegram refuses the other with 409.
            if self.polling:
                self.conflicts += 1
                return json_answer(409, {"ok": False, "error_code": 409,
                                         "description": "Conflict: terminated by other getUpdates request; make sure "
                                                        "that only one bot instance is running"})
            self.polling += 1
            self.most_polling = max(self.most_polling, self.polling)
            self.offsets.append(offset)
            self.polls_at.append(time.monotonic())
            try:
                if offset is not None:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                while not self._updates and time.monotonic() < deadline and not gone():
                    self._changed.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                return json_answer(200, {"ok": True, "result": list(self._updates[:100])})
            finally:
                self.polling -= 1

    def answer(self, request: Recorded) -> Answer:
        if not request.path.startswith("/bot"):
            return json_answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, _, method = request.path[4:].partition("/")
        if token != TOKEN:
            return json_answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if method == "getUpdates":
            try:
                return self._get_updates(request.json() if request.body else {}, request.gone)
            except ValueError:
                return json_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
        if method != "sendMessage":
            return json_answer(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        try:
            payload = request.json()
        except ValueError:
            return json_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
        try:
            chat = int(payload.get("chat_id"))
        except (TypeError, ValueError):
            return json_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        if chat not in self.chats:
            return json_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        text = payload.get("text", "")
        if not text:
            return json_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        if payload.get("parse_mode") == "HTML":
            for match in re.finditer(r"</?([a-zA-Z-]+)[^>]*>", text):
                if match.group(1).lower() not in ALLOWED_TAGS:
                    return json_answer(400, {"ok": False, "error_code": 400,
                                             "description": "Bad Request: can't parse entities: Unsupported start "
                                                            f"tag \"{match.group(1)}\" at byte offset {match.start()}"})
        return json_answer(200, {"ok": True, "result": {"message_id": next(self._ids), "date": 1441645532,
                                                        "from": {"id": 123456, "is_bot": True, "first_name": "Ferry",
                                                                 "username": "ferry_bot"},
                                                        "chat": {"id": chat, "type": "supergroup", "title": "Ops"},
                                                        "text": re.sub(r"<[^>]+>", "", text)}})
