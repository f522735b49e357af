"""Rocket.Chat incoming webhooks as docs.rocket.chat documents them: POST /hooks/<integrationId>/<token> with
JSON {"text", "alias", "emoji", "avatar", "channel"}; {"success": true}; an unknown integration or token gives
{"success": false, "error": "Invalid integration id or token provided."}. Outgoing webhooks post JSON to the
bridge (token, bot, channel_id, channel_name, message_id, timestamp, user_id, user_name, text)."""

from __future__ import annotations

from fake_http import Answer, FakeService, Recorded, json_answer

INTEGRATION = "Y6cGbrz5ZgFCbqxeN"
TOKEN = "hd5mAaBYJHN2ti4Yd4Mcqyb3zWjXnR6ZkgJmNYX8sLJCpNFG"


def outgoing(text: str, user_name: str = "carol", channel_name: str = "general", message_id: str = "ID",
             token: str = "G4hwYKzXpFmk3Sw8B", bot: bool = False) -> dict:
    return {"token": token, "bot": bot, "channel_id": "GENERAL", "channel_name": channel_name, "message_id": message_id,
            "timestamp": {"$date": 1445532266000}, "user_id": "ID", "user_name": user_name, "text": text,
            "siteUrl": "https://chat.example.org"}


class RocketChat(FakeService):
    @property
    def webhook_url(self) -> str:
        return f"{self.url}/hooks/{INTEGRATION}/{TOKEN}"

    def answer(self, request: Recorded) -> Answer:
        if request.path != f"/hooks/{INTEGRATION}/{TOKEN}" or request.method != "POST":
            return json_answer(400, {"success": False, "error": "Invalid integration id or token provided."})
        try:
            payload = request.json()
        except ValueError:
            return json_answer(400, {"success": False, "error": "Invalid JSON"})
        if not payload.get("text") and not payload.get("attachments"):
            return json_answer(400, {"success": False, "error": "text or attachments required"})
        return json_answer(200, {"success": True})
