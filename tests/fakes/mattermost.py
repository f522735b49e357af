"""Mattermost incoming webhooks as developers.mattermost.com documents them: POST /hooks/<key> with JSON
{"text", "channel", "username", "icon_url"}; 200 "ok" (text/plain); an unknown key or an empty text gives a
JSON AppError (status_code 400 or 404). Outgoing webhooks post form-encoded or JSON fields to the bridge
(token, team_id, channel_id, channel_name, user_id, user_name, post_id, text, timestamp, trigger_word)."""

from __future__ import annotations

from fake_http import Answer, FakeService, Recorded, json_answer, text_answer

HOOK_KEY = "xx1rf7yzbbdsuxbgxsh8wdp1ow"


def app_error(status: int, error_id: str, message: str) -> Answer:
    return json_answer(status, {"id": error_id, "message": message, "detailed_error": "",
                                "request_id": "5fnd1kqozb8z7yc8jm5jwzpuge", "status_code": status})


def outgoing(text: str, user_name: str = "bob", channel_name: str = "town-square", post_id: str = "t7rc1dhe3fb6jb8chnesdi9wfo",
             token: str = "w6h7erxwq3dy5xbs1qk8xz8kwr") -> dict[str, str]:
    return {"token": token, "team_id": "fxncwj5bjtdmzgyq9g6buq1azh", "team_domain": "ops",
            "channel_id": "qmd5oqtwoibz8cuzxzg5ekshgr", "channel_name": channel_name, "timestamp": "1445532266",
            "user_id": "rnuqkyqw7tynidqfsg7ayjnpjy", "user_name": user_name, "post_id": post_id, "text": text,
            "trigger_word": "", "file_ids": ""}


class Mattermost(FakeService):
    @property
    def webhook_url(self) -> str:
        return f"{self.url}/hooks/{HOOK_KEY}"

    def answer(self, request: Recorded) -> Answer:
        if request.path != f"/hooks/{HOOK_KEY}" or request.method != "POST":
            return app_error(404, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
        try:
            payload = request.json()
        except ValueError:
            return app_error(400, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.")
        if not payload.get("text") and not payload.get("attachments"):
            return app_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
        return text_answer(200, "ok")
