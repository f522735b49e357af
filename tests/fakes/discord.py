"""Discord's Execute Webhook endpoint as discord.com/developers/docs documents it: POST
/api/webhooks/{id}/{token}[?wait=true]; with wait the created message object (200), without it 204; an empty
message is 400 code 50006, content over 2,000 characters 400 code 50035, an unknown webhook 404 code 10015; a rate
limit is 429 with {"message", "retry_after" (seconds, float), "global"} and Retry-After / X-RateLimit-* headers."""

from __future__ import annotations

import itertools

from fake_http import Answer, FakeService, Recorded, json_answer

WEBHOOK_ID = "223704706495545344"
WEBHOOK_TOKEN = "3d89bb7572e0fb30d8128367b3b1b44fecd1726de135cbe28a41f8b2f777c372ba2939e72279b94526ff5d1bd4358d65cf11"


def rate_limited(retry_after: float = 0.5) -> Answer:
    return json_answer(429, {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                       {"Retry-After": str(max(1, int(retry_after + 0.999))), "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(retry_after),
                        "X-RateLimit-Scope": "user"})


class Discord(FakeService):
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    def answer(self, request: Recorded) -> Answer:
        if request.path != f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}" or request.method != "POST":
            return json_answer(404, {"message": "Unknown Webhook", "code": 10015})
        try:
            payload = request.json()
        except ValueError:
            return json_answer(400, {"message": "The request body contains invalid JSON.", "code": 50109})
        content = payload.get("content", "")
        if not content and not payload.get("embeds"):
            return json_answer(400, {"message": "Cannot send an empty message", "code": 50006})
        if len(content) > 2000:
            return json_answer(400, {"message": "Invalid Form Body", "code": 50035,
                                     "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                                                        "message": "Must be 2000 or fewer in length."}]}}})
        if request.query.get("wait") != ["true"]:
            return Answer(204)
        message_id = str(1100000000000000000 + next(self._ids))
        return json_answer(200, {"id": message_id, "type": 0, "content": content, "channel_id": "199737254929760256",
                                 "author": {"bot": True, "id": WEBHOOK_ID,
                                            "username": payload.get("username", "Ferry"), "avatar": None},
                                 "attachments": [], "embeds": [], "mentions": [], "mention_roles": [],
                                 "pinned": False, "mention_everyone": False, "tts": False,
                                 "timestamp": "2026-11-26T02:00:00.000000+00:00", "edited_timestamp": None,
                                 "flags": 0, "webhook_id": WEBHOOK_ID})
