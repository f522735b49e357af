"""XMPP → durable outbox → chat services over HTTP, against fakes that follow each service's published API
(tests/fakes): what Ferry sends (shape, auth, escaping), rate limits and outages (delivered after, once), permanent
errors (dead letter, the XMPP sender told why), the SSRF guard, Matrix's txnId as the idempotency key."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import discord as discord_fake
import matrix as matrix_fake
import mattermost as mattermost_fake
import rocketchat as rocketchat_fake
import slack as slack_fake
import telegram as telegram_fake
from fake_http import Answer, json_answer
from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from xmpp_client import Client, run, stanza_error

STANZA_TEXT = "{urn:ietf:params:xml:ns:xmpp-stanzas}text"


def error_of(stanza) -> tuple[str | None, str]:
    """(defined condition, text) of an error stanza."""
    _, condition = stanza_error(stanza)
    text = stanza.find(".//" + STANZA_TEXT)
    return condition, text.text if text is not None else ""

TEXT = "*deploy* done <!channel> & _all_ good"


class Bridge:
    """A store with one connector of `kind` and alice's mapping to `remote`, and Ferry running."""

    def __init__(self, pg, world, start_ferry, ferry_binary, kind: str, settings: dict[str, str], remote: str,
                 direction: str = "out") -> None:
        self.cli = Cli(ferry_binary, pg.url)
        self.pg = pg
        self.world = world
        assert self.cli("db", "migrate").returncode == 0
        pg.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
               "DELETE FROM mappings; DELETE FROM accounts; DELETE FROM connectors;")
        args = ["connector", "add", "chat", "--kind", kind]
        for key, value in settings.items():
            args += ["--setting", f"{key}={value}"]
        self.cli.ok(*args)
        self.cli.ok("mapping", "add", "--xmpp", world.jid("alice"), "--connector", "chat", "--remote", remote,
                    "--direction", direction)
        self.target = self.remote_jid(remote)
        self.ferry = start_ferry(env={"FERRY_DATABASE_URL": pg.url, "no_proxy": "127.0.0.1,localhost",
                                      "NO_PROXY": "127.0.0.1,localhost"})
        self.ferry.wait_connected(timeout=10)
        self.ferry.wait_for_log(r"mapping store: loaded", timeout=10)

    def remote_jid(self, remote: str) -> str:
        escaped = remote.replace("\\", "\\5c").replace(" ", "\\20").replace('"', "\\22").replace("&", "\\26") \
            .replace("'", "\\27").replace("/", "\\2f").replace(":", "\\3a").replace("<", "\\3c") \
            .replace(">", "\\3e").replace("@", "\\40")
        return f"{escaped}%chat@{self.world.component_domain}"

    def send(self, *texts: str) -> None:
        async def scenario():
            async with Client(self.world, "alice") as alice:
                for i, text in enumerate(texts):
                    await alice.send_message(self.target, text, id=f"m{i}", receipt=True)
                for _ in texts:
                    await alice.next_receipt(timeout=10)
        run(scenario())

    def outbox_empty(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pg.sql("SELECT count(*) FROM outbox").strip() == "0":
                return
            time.sleep(0.1)
        raise AssertionError("outbox not empty: " + self.pg.sql("SELECT attempts, last_error FROM outbox"))


@pytest.fixture
def fakes():
    made = []

    def make(cls, *args):
        fake = cls(*args)
        made.append(fake)
        return fake
    yield make
    for fake in made:
        fake.close()


@pytest.fixture
def bridge(pg_world, world, start_ferry, ferry_binary):  # noqa: F811
    def make(kind, settings, remote, direction="out"):
        return Bridge(pg_world, world, start_ferry, ferry_binary, kind,
                      {"allow_private": "yes", "pace_ms": "0", **settings}, remote, direction)
    return make


def test_slack_chat_post_message(bridge, fakes):
    slack = fakes(slack_fake.Slack)
    b = bridge("slack", {"token": slack.token, "base_url": slack.api_url}, "C0LAN2Q65")
    b.send(TEXT, "second")
    posted = [json.loads(r.body) for r in slack.wait_for(2)]
    assert posted[0]["channel"] == "C0LAN2Q65"
    # XEP-0393 styling is mrkdwn already; &, <, > are escaped so "<!channel>" cannot ping the channel.
    assert posted[0]["text"] == "*deploy* done &lt;!channel&gt; &amp; _all_ good"
    assert posted[0]["username"] == "alice"
    assert posted[1]["text"] == "second"
    request = slack.taken()[0]
    assert request.headers["authorization"] == f"Bearer {slack.token}"
    assert request.headers["content-type"].startswith("application/json")
    b.outbox_empty()
    # The message's Slack ts is kept for later edits and replies.
    ids = b.pg.sql("SELECT native_id FROM message_map WHERE system <> 'xmpp' ORDER BY native_id").split()
    assert len(ids) == 2 and all("." in ts for ts in ids), ids


def test_slack_incoming_webhook(bridge, fakes):
    slack = fakes(slack_fake.Slack)
    b = bridge("slack-webhook", {"webhook_url": slack.webhook_url}, "ops")
    b.send(TEXT)
    (request,) = slack.wait_for(1)
    assert request.json() == {"text": "*alice*: *deploy* done &lt;!channel&gt; &amp; _all_ good"}


def test_mattermost_incoming_webhook(bridge, fakes):
    mm = fakes(mattermost_fake.Mattermost)
    b = bridge("mattermost", {"webhook_url": mm.webhook_url}, "town-square")
    b.send(TEXT)
    (request,) = mm.wait_for(1)
    assert request.json() == {"channel": "town-square", "username": "alice",
                              "text": "**deploy** done \\<!channel\\> & _all_ good"}


def test_rocketchat_incoming_webhook(bridge, fakes):
    rc = fakes(rocketchat_fake.RocketChat)
    b = bridge("rocketchat", {"webhook_url": rc.webhook_url}, "#general")
    b.send(TEXT)
    (request,) = rc.wait_for(1)
    assert request.json() == {"channel": "#general", "alias": "alice",
                              "text": "**deploy** done \\<!channel\\> & _all_ good"}


def test_discord_webhook_keeps_message_id_and_blocks_mentions(bridge, fakes):
    dc = fakes(discord_fake.Discord)
    b = bridge("discord", {"webhook_url": dc.webhook_url,
                           "avatar_url": "https://avatars.example.org/{sender}.png"}, "ops")
    b.send("@everyone *look*")
    (request,) = dc.wait_for(1)
    assert request.query == {"wait": ["true"]}
    assert request.json() == {"content": "@everyone **look**", "username": "alice",
                              "avatar_url": "https://avatars.example.org/alice.png",
                              "allowed_mentions": {"parse": []}}
    b.outbox_empty()
    assert b.pg.sql("SELECT native_id FROM message_map WHERE system <> 'xmpp'").strip().startswith("11")


def test_matrix_send_uses_the_idempotency_key_as_txn_id(bridge, fakes):
    mx = fakes(matrix_fake.Matrix)
    b = bridge("matrix", {"token": mx.token, "base_url": mx.url, "bot_user": "@ferry:example.org"}, matrix_fake.ROOM)
    mx.script(json_answer(502, {"errcode": "M_UNKNOWN", "error": "Bad gateway"}))
    b.send(TEXT)
    events = mx.wait_for(1)
    all_requests = mx.requests
    assert len(all_requests) == 2, [r.status for r in all_requests]
    assert all_requests[0].path == all_requests[1].path  # the retry carries the same txnId
    room, txn, content = mx.events()[0]
    assert room == matrix_fake.ROOM
    key = b.pg.sql("SELECT message_key FROM message_map WHERE system <> 'xmpp'").strip()
    assert txn == key
    assert content == {"msgtype": "m.text", "body": "alice: " + TEXT, "format": "org.matrix.custom.html",
                       "formatted_body": "<strong>alice</strong>: <strong>deploy</strong> done &lt;!channel&gt; "
                                         "&amp; <em>all</em> good"}
    assert events[0].headers["authorization"] == f"Bearer {mx.token}"
    assert b.pg.sql("SELECT native_id FROM message_map WHERE system <> 'xmpp'").strip() == "$ev1:example.org"
    # The XMPP side is kept too, under the same key: corrections and retractions find the event through it.
    assert b.pg.sql("SELECT native_id FROM message_map WHERE system = 'xmpp'").strip() == "m0"


def test_telegram_send_message_html(bridge, fakes):
    tg = fakes(telegram_fake.Telegram)
    b = bridge("telegram", {"token": telegram_fake.TOKEN, "base_url": tg.url}, str(telegram_fake.CHAT))
    b.send(TEXT + "\nline two")
    (request,) = tg.wait_for(1)
    assert request.json() == {"chat_id": str(telegram_fake.CHAT), "parse_mode": "HTML",
                              "text": "<b>alice</b>: <strong>deploy</strong> done &lt;!channel&gt; &amp; "
                                      "<em>all</em> good\nline two"}
    b.outbox_empty()
    assert b.pg.sql("SELECT native_id FROM message_map WHERE system <> 'xmpp'").strip() == "100"


@pytest.mark.parametrize("service", ["slack", "discord", "matrix", "telegram"])
def test_rate_limit_answer_is_honoured_then_delivered_once(service, bridge, fakes):
    if service == "slack":
        fake = fakes(slack_fake.Slack)
        b = bridge("slack", {"token": fake.token, "base_url": fake.api_url}, "C0LAN2Q65")
        limit, wait = slack_fake.rate_limited(2), 2.0
    elif service == "discord":
        fake = fakes(discord_fake.Discord)
        b = bridge("discord", {"webhook_url": fake.webhook_url}, "ops")
        limit, wait = discord_fake.rate_limited(1.5), 1.5
    elif service == "matrix":
        fake = fakes(matrix_fake.Matrix)
        b = bridge("matrix", {"token": fake.token, "base_url": fake.url, "bot_user": "@ferry:example.org"},
                   matrix_fake.ROOM)
        limit, wait = matrix_fake.rate_limited(1500), 1.5
    else:
        fake = fakes(telegram_fake.Telegram)
        b = bridge("telegram", {"token": telegram_fake.TOKEN, "base_url": fake.url}, str(telegram_fake.CHAT))
        limit, wait = telegram_fake.rate_limited(2), 2.0
    fake.script(limit)
    started = time.monotonic()
    b.send("hello")
    fake.wait_for(1, timeout=20)
    statuses = [r.status for r in fake.requests]
    assert statuses == [429, 200], statuses
    assert time.monotonic() - started >= wait - 0.2
    b.outbox_empty()
    assert b.pg.sql("SELECT count(*) FROM dead_letters").strip() == "0"


def test_outage_with_errors_and_timeouts_delays_but_loses_nothing(bridge, fakes):
    slack = fakes(slack_fake.Slack)
    b = bridge("slack", {"token": slack.token, "base_url": slack.api_url, "timeout_ms": "500"}, "C0LAN2Q65")
    slack.script(json_answer(500, {"ok": False, "error": "internal_error"}),
                 Answer(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
                 Answer(200, b"{}", {}, delay=2.0),  # answers after Ferry's 500 ms timeout
                 json_answer(200, {"ok": False, "error": "service_unavailable"}))
    b.send("one", "two", "three")
    posted = slack.posted()
    deadline = time.monotonic() + 40
    while len(posted) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        posted = slack.posted()
    assert [p["text"] for p in posted] == ["one", "two", "three"]
    b.outbox_empty()
    assert b.pg.sql("SELECT count(*) FROM dead_letters").strip() == "0"


def test_permanent_error_is_a_dead_letter_and_the_sender_is_told(bridge, fakes, world):
    slack = fakes(slack_fake.Slack)
    b = bridge("slack", {"token": slack.token, "base_url": slack.api_url}, "C_NOT_THERE")

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(b.target, "hello", id="lost1")
            error = await alice.next_message_error(timeout=15)
            condition, text = error_of(error)
            assert condition == "recipient-unavailable"
            assert "channel_not_found" in text
    run(scenario())
    assert "channel_not_found" in b.pg.sql("SELECT reason FROM dead_letters")
    assert slack.posted() == []


def test_ssrf_guard_refuses_loopback_unless_allowed(pg_world, world, start_ferry, ferry_binary, fakes):  # noqa: F811
    slack = fakes(slack_fake.Slack)
    b = Bridge(pg_world, world, start_ferry, ferry_binary, "slack",
               {"token": slack.token, "base_url": slack.api_url, "pace_ms": "0"}, "C0LAN2Q65")

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(b.target, "to the metadata service?", id="ssrf1")
            error = await alice.next_message_error(timeout=15)
            condition, text = error_of(error)
            assert condition == "recipient-unavailable"
            assert "loopback" in text and "allow_private" in text, text
    run(scenario())
    assert slack.requests == []


def test_cli_checks_preset_settings(pg_world, ferry_binary):  # noqa: F811
    cli = Cli(ferry_binary, pg_world.url)
    assert cli("db", "migrate").returncode == 0
    pg_world.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM mappings; "
                 "DELETE FROM accounts; DELETE FROM connectors;")
    assert "needs --setting token" in cli.fails(2, "connector", "add", "s", "--kind", "slack")
    assert "unknown setting \"colour\"" in cli.fails(2, "connector", "add", "s", "--kind", "slack",
                                                     "--setting", "token=x", "--setting", "colour=red")
    assert "allow_private is yes or no" in cli.fails(2, "connector", "add", "s", "--kind", "slack",
                                                     "--setting", "token=x", "--setting", "allow_private=maybe")
    # Without its own user Ferry would bridge its own Matrix posts back to XMPP.
    assert "needs --setting bot_user" in cli.fails(2, "connector", "add", "m", "--kind", "matrix", "--setting",
                                                   "token=t", "--setting", "base_url=https://matrix.example.org")
    assert "timeout_ms must be at least 1" in cli.fails(2, "connector", "add", "s", "--kind", "slack",
                                                         "--setting", "token=x", "--setting", "timeout_ms=0")
    cli.ok("connector", "add", "s", "--kind", "slack", "--setting", "token=xoxb-secret-value")
    shown = cli.ok("connector", "show", "s")
    assert "xoxb-secret-value" not in shown and "token=<redacted>" in shown
    cli.ok("connector", "add", "d", "--kind", "discord", "--setting", "webhook_url=https://discord.com/api/webhooks/1/x")
    assert "only sends" in cli.fails(2, "mapping", "add", "--xmpp", "alice@example.org", "--connector", "d",
                                     "--remote", "ops", "--direction", "both")


def correction(to: str, original: str, text: str, id: str) -> str:
    return (f"<message to='{to}' type='chat' id='{id}'><body>{text}</body>"
            f"<replace xmlns='urn:xmpp:message-correct:0' id='{original}'/></message>")


def retraction(to: str, original: str, id: str) -> str:
    return (f"<message to='{to}' type='chat' id='{id}'><retract xmlns='urn:xmpp:message-retract:1' id='{original}'/>"
            "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>"
            "<body>This person attempted to retract a previous message, but it's unsupported by your client.</body>"
            "</message>")


def reply(to: str, original: str, quoted: str, text: str, id: str) -> str:
    fallback = f"&gt; {quoted}\n"
    return (f"<message to='{to}' type='chat' id='{id}'><body>{fallback}{text}</body>"
            f"<reply xmlns='urn:xmpp:reply:0' id='{original}'/>"
            f"<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='{len(quoted) + 3}'/>"
            "</fallback></message>")


def test_slack_corrections_retractions_and_replies(bridge, fakes, world):
    slack = fakes(slack_fake.Slack)
    b = bridge("slack", {"token": slack.token, "base_url": slack.api_url}, "C0LAN2Q65")

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(b.target, "deploy at 5", id="orig1")
            await asyncio.to_thread(slack.wait_for, 1)
            await asyncio.to_thread(b.outbox_empty)
            await alice.send_raw(correction(b.target, "orig1", "deploy at 6", "fix1"))
            await asyncio.to_thread(wait_until, lambda: slack.calls("chat.update"))
            await alice.send_raw(reply(b.target, "orig1", "deploy at 6", "ok, noted", "re1"))
            await asyncio.to_thread(wait_until, lambda: len(slack.posted()) == 2)
            await alice.send_raw(retraction(b.target, "orig1", "del1"))
            await asyncio.to_thread(wait_until, lambda: slack.calls("chat.delete"))
            # A correction of a message Ferry never saw goes out readably as a new message.
            await alice.send_raw(correction(b.target, "unknown", "typo fixed", "fix2"))
            await asyncio.to_thread(wait_until, lambda: len(slack.posted()) == 3)

    run(scenario())
    first, answered, fallback = slack.posted()
    original, answered_ts, fallback_ts = slack.posted_ts
    (update,) = slack.calls("chat.update")
    (delete,) = slack.calls("chat.delete")
    assert update == {"channel": "C0LAN2Q65", "ts": original, "text": "deploy at 6"}
    assert delete == {"channel": "C0LAN2Q65", "ts": original}
    assert answered["thread_ts"] == original and answered["text"] == "ok, noted"
    assert "thread_ts" not in first
    assert fallback["text"] == "(correction) typo fixed"
    # What the channel shows in the end: the original gone, the reply and the readable fallback.
    assert slack.messages["C0LAN2Q65"] == {answered_ts: "ok, noted", fallback_ts: "(correction) typo fixed"}


def test_matrix_corrections_and_retractions(bridge, fakes, world):
    mx = fakes(matrix_fake.Matrix)
    b = bridge("matrix", {"token": mx.token, "base_url": mx.url, "bot_user": "@ferry:example.org"}, matrix_fake.ROOM)

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(b.target, "hello *all*", id="m-orig")
            await asyncio.to_thread(mx.wait_for, 1)
            await asyncio.to_thread(b.outbox_empty)
            await alice.send_raw(correction(b.target, "m-orig", "hello everyone", "m-fix"))
            await asyncio.to_thread(mx.wait_for, 2)
            await alice.send_raw(retraction(b.target, "m-orig", "m-del"))
            await asyncio.to_thread(wait_until, lambda: mx.redacted)

    run(scenario())
    (_, _, original), (_, _, edit) = mx.events()
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$ev1:example.org"}
    assert edit["m.new_content"]["body"] == "alice: hello everyone"
    assert edit["body"] == "* hello everyone"
    assert "m.relates_to" not in original
    assert mx.redacted == ["$ev1:example.org"]


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met within the time")
