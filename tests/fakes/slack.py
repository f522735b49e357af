"""Slack, as api.slack.com documents it: the Web API's chat.postMessage (Bearer bot token; HTTP 200 with
{"ok": false, "error": …} for API errors; 429 with Retry-After when rate limited), incoming webhooks (200 "ok";
400 invalid_payload / no_text, 403 action_prohibited, 404 no_service, 410 channel_is_archived), and the request
signing of the Events API (v0 HMAC-SHA256 over "v0:<timestamp>:<body>")."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

from fake_http import Answer, FakeService, Recorded, json_answer, text_answer

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the example secret of Slack's "Verifying requests" page


# users.info answers for these; others are user_not_found. Egon has a display name, Bob only a real name.
USERS = {"U061F7AUR": {"name": "spengler", "real_name": "Egon Spengler", "display_name": "spengler"},
         "U024BE7LH": {"name": "bob", "real_name": "Bob Ross", "display_name": ""}}


def rate_limited(retry_after: int = 1) -> Answer:
    return json_answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def signature_headers(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()}


def message_event(text: str, user: str = "U061F7AUR", channel: str = "C0LAN2Q65", event_id: str = "Ev0PV52K25",
                  **extra) -> dict:
    """An Events API `event_callback` wrapping a `message` event, shaped as the Events API documents it."""
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": "1355517523.000005",
             "event_ts": "1355517523.000005", "channel_type": "channel", **extra}
    return {"token": "XXYYZZ", "team_id": "T061EG9RZ", "api_app_id": "A0FFV41KK", "event": event,
            "type": "event_callback", "event_id": event_id, "event_time": 1355517523,
            "authorizations": [{"team_id": "T061EG9RZ", "user_id": "U0JD3BPNC", "is_bot": True}]}


def message_changed_event(ts: str, text: str, previous_text: str, user: str = "U061F7AUR",
                          channel: str = "C0LAN2Q65", event_id: str = "Ev0PV52K30") -> dict:
    """A `message_changed` message event (someone edited the message `ts`), as the Events API documents it:
    the new message under `message`, the old one under `previous_message`."""
    event = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel,
             "ts": f"{int(time.time())}.000100", "event_ts": f"{int(time.time())}.000100", "channel_type": "channel",
             "message": {"type": "message", "user": user, "text": text, "ts": ts,
                         "edited": {"user": user, "ts": f"{int(time.time())}.000100"}},
             "previous_message": {"type": "message", "user": user, "text": previous_text, "ts": ts}}
    return {"token": "XXYYZZ", "team_id": "T061EG9RZ", "api_app_id": "A0FFV41KK", "event": event,
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time())}


def message_deleted_event(ts: str, previous_text: str, user: str = "U061F7AUR", channel: str = "C0LAN2Q65",
                          event_id: str = "Ev0PV52K31") -> dict:
    """A `message_deleted` message event: `deleted_ts` names the message, `previous_message` is what it was."""
    event = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel,
             "ts": f"{int(time.time())}.000200", "deleted_ts": ts, "event_ts": f"{int(time.time())}.000200",
             "channel_type": "channel",
             "previous_message": {"type": "message", "user": user, "text": previous_text, "ts": ts}}
    return {"token": "XXYYZZ", "team_id": "T061EG9RZ", "api_app_id": "A0FFV41KK", "event": event,
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time())}


class Slack(FakeService):
    def __init__(self, token: str = "xoxb-ferry-test", channels: tuple[str, ...] = ("C0LAN2Q65",)) -> None:
        self.token = token
        self.channels = set(channels)
        self._ts = itertools.count(1)
        self.messages: dict[str, dict[str, str]] = {}  # channel → ts → text: what the channel shows now
        self.posted_ts: list[str] = []  # the ts of every message posted, in order
        super().__init__()

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    @property
    def webhook_url(self) -> str:
        return self.url + "/services/T061EG9RZ/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def answer(self, request: Recorded) -> Answer:
        if request.path.startswith("/services/"):
            return self._webhook(request)
        if request.path == "/api/users.info" and request.method == "GET":
            return self._users_info(request)
        if request.path == "/api/chat.postMessage" and request.method == "POST":
            return self._post_message(request)
        if request.path in ("/api/chat.update", "/api/chat.delete") and request.method == "POST":
            return self._change_message(request, request.path.endswith("update"))
        return json_answer(404, {"ok": False, "error": "unknown_method"})

    def _webhook(self, request: Recorded) -> Answer:
        if request.path != "/services/T061EG9RZ/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX":
            return text_answer(404, "no_service")
        try:
            payload = request.json()
        except ValueError:
            return text_answer(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return text_answer(400, "no_text")
        return text_answer(200, "ok")

    def _post_message(self, request: Recorded) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(200, {"ok": False, "error": "not_authed" if "authorization" not in request.headers
                                     else "invalid_auth"})
        try:
            payload = request.json()
        except ValueError:
            return json_answer(200, {"ok": False, "error": "invalid_json"})
        channel = payload.get("channel")
        if channel not in self.channels:
            return json_answer(200, {"ok": False, "error": "channel_not_found"})
        if not payload.get("text") and not payload.get("blocks"):
            return json_answer(200, {"ok": False, "error": "no_text"})
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.messages.setdefault(channel, {})[ts] = payload["text"]
        self.posted_ts.append(ts)
        return json_answer(200, {"ok": True, "channel": channel, "ts": ts,
                                 "message": {"type": "message", "subtype": "bot_message", "text": payload["text"],
                                             "username": payload.get("username", "ferry"), "bot_id": "B0FFV41KK",
                                             "ts": ts}})

    def counts(self, request: Recorded) -> bool:
        return request.path != "/api/users.info"

    def _users_info(self, request: Recorded) -> Answer:
        """users.info (scope users:read): the user object with its profile."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(200, {"ok": False, "error": "not_authed"})
        user_id = request.query.get("user", [""])[0]
        user = USERS.get(user_id)
        if user is None:
            return json_answer(200, {"ok": False, "error": "user_not_found"})
        return json_answer(200, {"ok": True, "user": {
            "id": user_id, "team_id": "T061EG9RZ", "name": user["name"], "deleted": False,
            "real_name": user["real_name"], "tz": "Europe/Amsterdam", "is_bot": False,
            "profile": {"real_name": user["real_name"], "display_name": user["display_name"],
                        "real_name_normalized": user["real_name"],
                        "display_name_normalized": user["display_name"]}}})

    def _change_message(self, request: Recorded, update: bool) -> Answer:
        """chat.update / chat.delete: the message must exist (channel + ts) and be the app's own."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(200, {"ok": False, "error": "invalid_auth"})
        payload = request.json()
        channel, ts = payload.get("channel"), payload.get("ts")
        if channel not in self.channels:
            return json_answer(200, {"ok": False, "error": "channel_not_found"})
        if ts not in self.messages.get(channel, {}):
            return json_answer(200, {"ok": False, "error": "message_not_found"})
        if update:
            if not payload.get("text"):
                return json_answer(200, {"ok": False, "error": "no_text"})
            self.messages[channel][ts] = payload["text"]
            return json_answer(200, {"ok": True, "channel": channel, "ts": ts, "text": payload["text"],
                                     "message": {"text": payload["text"]}})
        del self.messages[channel][ts]
        return json_answer(200, {"ok": True, "channel": channel, "ts": ts})

    def calls(self, method: str) -> list[dict]:
        """The bodies of accepted calls of one Web API method (`chat.update`, …)."""
        return [r.json() for r in self.taken() if r.path == f"/api/{method}" and r.json_ok()]

    def posted(self) -> list[dict]:
        """The bodies of the chat.postMessage calls Slack accepted (ok: true)."""
        return [json.loads(r.body) for r in self.taken() if r.path == "/api/chat.postMessage"
                and r.headers.get("authorization") == f"Bearer {self.token}"
                and json.loads(r.body).get("channel") in self.channels]


if __name__ == "__main__":
    # A Slack to try the bridge with by hand: prints what Ferry posts; see the README.
    import sys
    fake = Slack(token=sys.argv[1] if len(sys.argv) > 1 else "xoxb-ferry-test")
    print(f"fake Slack Web API at {fake.api_url} (token {fake.token}, channel C0LAN2Q65); Ctrl-C to stop",
          flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            posted = fake.posted()
            for body in posted[seen:]:
                print(f"#{body['channel']} <{body.get('username', '?')}> {body['text']}", flush=True)
            seen = len(posted)
    except KeyboardInterrupt:
        fake.close()
