"""Chat services → Ferry → XMPP, and a MUC room bridged to Slack both ways, on real Prosody and ejabberd with a
Slack fake (tests/fakes/slack.py): Events API requests signed with Slack's v0 scheme (five-minute replay window),
url_verification, redeliveries recognised by event_id, each remote sender as their own room occupant, no echo in
either direction; Matrix application-service transactions (idempotent by txnId), Telegram webhook updates,
Mattermost, Rocket.Chat and Slack outgoing webhooks; every bad request refused with a JSON reason."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

import matrix as matrix_fake
import mattermost as mattermost_fake
import rocketchat as rocketchat_fake
import slack as slack_fake
import telegram as telegram_fake
from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from test_alertmanager import BODY_NS, post
from world_base import free_ports
from xmpp_client import Client, run

HS_TOKEN = "hs_token_from_registration"
TG_SECRET = "tg-secret-token"
MM_TOKEN = "w6h7erxwq3dy5xbs1qk8xz8kwr"
RC_TOKEN = "G4hwYKzXpFmk3Sw8B"


def request(url: str, body: bytes, headers: dict[str, str], method: str = "POST"):
    import urllib.request
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Services:
    """Ferry with a Slack connector (`slack`), a Matrix one (`mx`), Telegram (`tg`), Mattermost (`mm`),
    Rocket.Chat (`rc`) and a Slack outgoing webhook (`sw`), and the Slack fake."""

    def __init__(self, pg, world, start_ferry, ferry_binary, slack, matrix) -> None:
        self.cli = Cli(ferry_binary, pg.url)
        self.pg = pg
        self.world = world
        self.slack = slack
        self.matrix = matrix
        assert self.cli("db", "migrate").returncode == 0
        pg.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
               "DELETE FROM mappings; DELETE FROM accounts; DELETE FROM connectors;")
        self.room = f"bridge-{world.kind}-{int(time.time() * 1000) % 100000}@{world.muc_domain}"
        alice = world.jid("alice")
        for args in (
            ["connector", "add", "slack", "--kind", "slack", "--setting", f"token={slack.token}",
             "--setting", f"base_url={slack.api_url}", "--setting", f"signing_secret={slack_fake.SIGNING_SECRET}",
             "--setting", "allow_private=yes", "--setting", "pace_ms=0"],
            ["mapping", "add", "--xmpp", self.room, "--connector", "slack", "--remote", "C0LAN2Q65",
             "--direction", "both", "--option", "room=yes"],
            ["connector", "add", "mx", "--kind", "matrix", "--setting", f"token={matrix.token}", "--setting",
             f"base_url={matrix.url}", "--setting", f"hs_token={HS_TOKEN}",
             "--setting", "bot_user=@ferry", "--setting", "allow_private=yes"],
            ["mapping", "add", "--xmpp", alice, "--connector", "mx", "--remote", matrix_fake.ROOM, "--direction", "in"],
            ["connector", "add", "tg", "--kind", "telegram", "--setting", f"token={telegram_fake.TOKEN}",
             "--setting", f"secret_token={TG_SECRET}"],
            ["mapping", "add", "--xmpp", alice, "--connector", "tg", "--remote", str(telegram_fake.CHAT),
             "--direction", "in"],
            ["connector", "add", "mm", "--kind", "mattermost", "--setting", "webhook_url=https://mm.example.org/hooks/x",
             "--setting", f"token={MM_TOKEN}"],
            ["mapping", "add", "--xmpp", alice, "--connector", "mm", "--remote", "town-square", "--direction", "in"],
            ["connector", "add", "rc", "--kind", "rocketchat", "--setting", "webhook_url=https://rc.example.org/hooks/x/y",
             "--setting", f"token={RC_TOKEN}"],
            ["mapping", "add", "--xmpp", alice, "--connector", "rc", "--remote", "general", "--direction", "in"],
            ["connector", "add", "sw", "--kind", "slack-webhook", "--setting", "webhook_url=https://hooks.slack.com/x",
             "--setting", "token=legacy-token"],
            ["mapping", "add", "--xmpp", alice, "--connector", "sw", "--remote", "ops", "--direction", "in"],
        ):
            self.cli.ok(*args)
        (port,) = free_ports(1)
        self.base = f"http://127.0.0.1:{port}/hooks"
        self.start_ferry = start_ferry
        self.env = {"FERRY_DATABASE_URL": pg.url, "FERRY_HTTP_PORT": str(port), "no_proxy": "127.0.0.1,localhost"}
        self.start()

    def start(self) -> None:
        self.ferry = self.start_ferry(env=self.env)
        self.ferry.wait_connected(timeout=10)
        self.ferry.wait_for_log(r"http: listening on", timeout=10)
        self.ferry.wait_for_log(r"mapping store: loaded", timeout=10)

    def slack_event(self, document: dict, **signing) -> tuple[int, str]:
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json", **slack_fake.signature_headers(body, **signing)}
        return request(f"{self.base}/slack", body, headers)


@pytest.fixture
def services(pg_world, world, start_ferry, ferry_binary):  # noqa: F811
    slack = slack_fake.Slack()
    matrix = matrix_fake.Matrix()
    try:
        yield Services(pg_world, world, start_ferry, ferry_binary, slack, matrix)
    finally:
        slack.close()
        matrix.close()


def test_room_bridged_to_slack_both_ways_without_echo(services, world):
    s = services

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.join_room(s.room, "alice")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)
            # XMPP → Slack: what alice says in the room is posted to the channel under her nick.
            await alice.send_groupchat(s.room, "hello *slack* <team>")
            posted = await asyncio.to_thread(s.slack.wait_for, 1)  # the loop must run to send the message
            assert posted[0].json() == {"channel": "C0LAN2Q65", "text": "hello *slack* &lt;team&gt;",
                                        "username": "alice"}
            # Slack → XMPP: a signed message event appears in the room from the sender's own occupant.
            status, text = s.slack_event(slack_fake.message_event("hi from <@U024BE7LH|bob> &amp; co"))
            assert (status, text) == (200, "{}"), text
            while True:
                msg = await alice.next_message(timeout=10)
                if msg.get("type") != "groupchat":
                    print("not from the room:", ET.tostring(msg))  # shown when the test fails
                    continue
                if msg.get("from") != f"{s.room}/alice":
                    break
            # Slack names the sender by id; users.info gives the name people know.
            assert msg.get("from") == f"{s.room}/spengler (slack)"
            assert msg.find(BODY_NS).text == "hi from @bob & co"
            # A user users.info does not know (user_not_found) speaks under their id.
            assert s.slack_event(slack_fake.message_event("who am I", user="W0NOBODY", event_id="EvW"))[0] == 200
            msg = await alice.next_message(timeout=10)
            assert msg.get("from") == f"{s.room}/W0NOBODY (slack)" and msg.find(BODY_NS).text == "who am I"
            # Slack redelivers the same event_id (it did not see our 200 in time): not shown again.
            assert s.slack_event(slack_fake.message_event("hi from <@U024BE7LH|bob> &amp; co"))[0] == 200
            # Slack's own copy of what Ferry posted (bot_id set) is not bridged back into the room.
            assert s.slack_event(slack_fake.message_event("hello *slack*", event_id="Ev2", bot_id="B0FFV41KK",
                                                          subtype="bot_message"))[0] == 200
            await alice.no_message(2.0)
        # The room's copy of the Slack user's message reached Ferry's Slack seat: it must not go back to Slack.
        assert len(s.slack.posted()) == 1, s.slack.posted()

    run(scenario())


def test_slack_url_verification_and_refusals(services):
    s = services
    challenge = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                 "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert s.slack_event(challenge) == (200, json.dumps({"challenge": challenge["challenge"]}, separators=(",", ":")))
    event = slack_fake.message_event("x", event_id="Ev3")
    body = json.dumps(event).encode()
    cases = {
        "unsigned": {"Content-Type": "application/json"},
        "wrong secret": slack_fake.signature_headers(body, secret="not-the-secret"),
        "replayed": slack_fake.signature_headers(body, timestamp=int(time.time()) - 6 * 60),
        "from the future": slack_fake.signature_headers(body, timestamp=int(time.time()) + 6 * 60),
    }
    for name, headers in cases.items():
        status, text = request(f"{s.base}/slack", body, {"Content-Type": "application/json", **headers})
        assert status == 401 and json.loads(text)["error"], (name, status, text)
    tampered = slack_fake.signature_headers(body)
    status, text = request(f"{s.base}/slack", body.replace(b'"x"', b'"y"'), {"Content-Type": "application/json",
                                                                            **tampered})
    assert status == 401, text
    status, text = request(f"{s.base}/slack", b"{not json", {"Content-Type": "application/json",
                                                             **slack_fake.signature_headers(b"{not json")})
    assert status == 400 and "not JSON" in json.loads(text)["error"]
    assert s.pg.sql("SELECT count(*) FROM outbox").strip() == "0"


def test_matrix_transactions_are_idempotent_by_txn_id(services, world):
    s = services
    url = f"{s.base}/mx/_matrix/app/v1/transactions/txn-1"
    # Element sends what the user typed, Markdown, as the body (formatted_body holds the HTML made of it).
    events = {"events": [matrix_fake.room_message("hello from **matrix** ~~soon~~",
                                                  formatted_body="hello from <strong>matrix</strong> <del>soon</del>"),
                         matrix_fake.room_message("my own echo", sender="@ferry_bot:example.org"),
                         {"type": "m.room.member", "room_id": matrix_fake.ROOM, "sender": "@bob:example.org",
                          "state_key": "@bob:example.org", "content": {"membership": "join"}}]}
    body = json.dumps(events).encode()
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {HS_TOKEN}"}

    async def scenario():
        async with Client(world, "alice") as alice:
            assert request(url, body, auth, method="PUT") == (200, "{}")
            assert request(url, body, auth, method="PUT") == (200, "{}")  # the homeserver retries the txn
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "hello from *matrix* ~soon~"  # XEP-0393 styling
            assert msg.get("from") == f"\\40alice\\3aexample.org%mx@{world.component_domain}"
            # The sender's Matrix display name, as an XEP-0172 nick.
            assert msg.find("{http://jabber.org/protocol/nick}nick").text == "Alice Liddell"
            await alice.no_message(2.0)

    run(scenario())
    status, text = request(url, body, {"Content-Type": "application/json", "Authorization": "Bearer nope"}, "PUT")
    assert status == 401, text
    # Older homeservers put the token in the query string.
    legacy = f"{s.base}/mx/_matrix/app/v1/transactions/txn-2?access_token={HS_TOKEN}"
    assert request(legacy, json.dumps({"events": []}).encode(), {"Content-Type": "application/json"}, "PUT")[0] == 200
    assert request(f"{s.base}/mx", body, auth, "PUT")[0] == 404
    assert request(url, body, auth, "POST")[0] == 405


def test_telegram_mattermost_rocketchat_and_slack_outgoing_webhooks(services, world):
    s = services

    async def scenario():
        async with Client(world, "alice") as alice:
            tg = json.dumps(telegram_fake.update("from *telegram*")).encode()
            assert request(f"{s.base}/tg", tg, {"Content-Type": "application/json"})[0] == 401
            ok = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
            assert request(f"{s.base}/tg", tg, ok)[0] == 200
            bot = json.dumps(telegram_fake.update("a bot", update_id=10001, is_bot=True)).encode()
            assert request(f"{s.base}/tg", bot, ok)[0] == 200
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "from *telegram*"
            assert msg.get("from") == f"alice_tg%tg@{world.component_domain}"

            form = urllib.parse.urlencode(mattermost_fake.outgoing("from **mattermost** \\*", token=MM_TOKEN)).encode()
            forms = {"Content-Type": "application/x-www-form-urlencoded"}
            assert request(f"{s.base}/mm", form, forms)[0] == 200
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "from *mattermost* *"
            assert msg.get("from") == f"bob%mm@{world.component_domain}"
            wrong = urllib.parse.urlencode(mattermost_fake.outgoing("x", token="wrong")).encode()
            assert request(f"{s.base}/mm", wrong, forms)[0] == 401

            rc = json.dumps(rocketchat_fake.outgoing("from rocket", token=RC_TOKEN)).encode()
            assert request(f"{s.base}/rc", rc, {"Content-Type": "application/json"})[0] == 200
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "from rocket"
            assert msg.get("from") == f"carol%rc@{world.component_domain}"

            legacy = urllib.parse.urlencode({"token": "legacy-token", "team_id": "T0001", "channel_id": "C2147483705",
                                             "channel_name": "ops", "timestamp": "1355517523.000005",
                                             "user_id": "U2147483697", "user_name": "Steve",
                                             "text": "googlebot: What is the air-speed &lt;velocity&gt;?"}).encode()
            assert request(f"{s.base}/sw", legacy, forms)[0] == 200
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "googlebot: What is the air-speed <velocity>?"
            await alice.no_message(1.0)

    run(scenario())


def test_what_the_room_said_while_ferry_was_away_reaches_slack(services, world):
    s = services

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.join_room(s.room, "alice")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)
            await alice.send_groupchat(s.room, "before the restart")
            await asyncio.to_thread(s.slack.wait_for, 1)
            deadline = time.monotonic() + 10
            while s.pg.sql("SELECT count(*) FROM room_marks").strip() != "1" and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            s.ferry.stop(timeout=5)
            await alice.send_groupchat(s.room, "while Ferry was away")
            await alice.send_groupchat(s.room, "and once more")
            await asyncio.sleep(0.5)
            await asyncio.to_thread(s.start)
            posted = await asyncio.to_thread(s.slack.wait_for, 3)
            assert [p.json()["text"] for p in posted] == ["before the restart", "while Ferry was away",
                                                          "and once more"]
            assert all(p.json()["username"] == "alice" for p in posted)
            await asyncio.sleep(1.5)
        assert len(s.slack.posted()) == 3, s.slack.posted()  # the history before the mark is not sent again

    run(scenario())


def polling_telegram_store(pg, world, ferry_binary, tg) -> None:
    """An empty store with a Telegram connector `tg` polling the fake, its chat mapped to alice."""
    cli = Cli(ferry_binary, pg.url)
    assert cli("db", "migrate").returncode == 0
    pg.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
           "DELETE FROM mappings; DELETE FROM accounts; DELETE FROM connectors;")
    cli.ok("connector", "add", "tg", "--kind", "telegram", "--setting", f"token={telegram_fake.TOKEN}",
           "--setting", f"base_url={tg.url}", "--setting", "allow_private=yes", "--setting", "poll=yes")
    cli.ok("mapping", "add", "--xmpp", world.jid("alice"), "--connector", "tg", "--remote", str(telegram_fake.CHAT),
           "--direction", "in")


def test_telegram_long_polling_confirms_updates_only_once_committed(pg_world, world, start_ferry,  # noqa: F811
                                                                    ferry_binary):
    tg = telegram_fake.Telegram()
    try:
        polling_telegram_store(pg_world, world, ferry_binary, tg)
        tg.push(telegram_fake.update("first by polling", update_id=500))
        ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "no_proxy": "127.0.0.1,localhost"})
        ferry.wait_connected(timeout=10)

        async def scenario():
            async with Client(world, "alice") as alice:
                msg = await alice.next_message(timeout=15)
                assert msg.find(BODY_NS).text == "first by polling"
                tg.push(telegram_fake.update("second", update_id=501),
                        telegram_fake.update("a bot", update_id=502, is_bot=True))
                msg = await alice.next_message(timeout=15)
                assert msg.find(BODY_NS).text == "second"
                await alice.no_message(1.5)
        run(scenario())
        # Every update handed out was confirmed by a later poll's offset (the bot's too: nothing to bridge).
        deadline = time.monotonic() + 10
        while tg.unconfirmed() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tg.unconfirmed() == []
        assert tg.offsets[0] is None and 503 in tg.offsets, tg.offsets
        ferry.stop(timeout=5)
        assert ferry.count("poller tg: stopped") == 1, ferry.log_tail()
    finally:
        tg.close()


def test_two_processes_poll_telegram_one_at_a_time_and_the_survivor_takes_over(pg_world, world,  # noqa: F811
                                                                              start_ferry, ferry_binary):
    """Two Ferry processes on one database: one getUpdates loop at a time (the fake refuses a second with 409,
    as Telegram does); SIGKILL the one polling and the other polls within 15 s, from the saved cursor; every
    update reaches XMPP exactly once across the takeover."""
    if world.kind == "ejabberd":
        # ejabberd takes both processes' streams for the one component domain and shares the stanzas to it,
        # answers to their keepalive and confirmation pings included, between them (docs/architecture.md).
        pytest.skip("two component streams for one domain: ejabberd balances between them")
    tg = telegram_fake.Telegram()
    try:
        polling_telegram_store(pg_world, world, ferry_binary, tg)
        env = {"FERRY_DATABASE_URL": pg_world.url, "no_proxy": "127.0.0.1,localhost"}
        ferries = [start_ferry(env=env), start_ferry(env=env)]
        taken = re.compile(r"source poll:\d+: runs in this process")

        def holders():
            return [f for f in ferries if f.count(taken) > 0]

        deadline = time.monotonic() + 15
        while not holders() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(holders()) == 1, [f.log_tail(20) for f in ferries]
        holder = holders()[0]
        survivor = next(f for f in ferries if f is not holder)
        texts: list[str] = []

        async def scenario():
            async with Client(world, "alice") as alice:
                tg.push(telegram_fake.update("one", update_id=700), telegram_fake.update("two", update_id=701))
                for _ in range(2):
                    texts.append((await alice.next_message(timeout=30)).find(BODY_NS).text)
                await asyncio.sleep(1)
                holder.kill()
                killed_at = time.monotonic()
                tg.push(telegram_fake.update("three", update_id=702), telegram_fake.update("four", update_id=703))
                while len(texts) < 4:
                    texts.append((await alice.next_message(timeout=45)).find(BODY_NS).text)
                await alice.no_message(2)
                return killed_at

        killed_at = run(scenario(), timeout=120)
        assert texts == ["one", "two", "three", "four"], texts
        assert survivor.count(taken) == 1, survivor.log_tail(30)
        first_after = [t for t in tg.polls_at if t > killed_at]
        assert first_after and first_after[0] - killed_at <= 15, (killed_at, tg.polls_at)
        assert tg.most_polling == 1 and tg.conflicts == 0, (tg.most_polling, tg.conflicts)
        # The survivor went on from the cursor the holder saved, not from the start.
        assert tg.offsets[len(tg.polls_at) - len(first_after)] == 702, (tg.offsets, tg.polls_at, killed_at)
    finally:
        tg.close()


def test_only_the_author_corrects_or_retracts_a_bridged_room_message(services, world):
    s = services

    def groupchat(id: str, body: str, extra: str = "") -> str:
        return f"<message to='{s.room}' type='groupchat' id='{id}'><body>{body}</body>{extra}</message>"

    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            await alice.join_room(s.room, "alice")
            await bob.join_room(s.room, "bob")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)
            await alice.send_raw(groupchat("a1", "the plan is A"))
            await asyncio.to_thread(s.slack.wait_for, 1)
            # bob saw alice's message id in the room; naming it does not let him change her message on Slack.
            await bob.send_raw(groupchat("b1", "the plan is B", "<replace xmlns='urn:xmpp:message-correct:0' id='a1'/>"))
            await bob.send_raw(f"<message to='{s.room}' type='groupchat' id='b2'>"
                               "<retract xmlns='urn:xmpp:message-retract:1' id='a1'/></message>")
            await asyncio.to_thread(lambda: s.slack.wait_for(3))
            # alice can.
            await alice.send_raw(groupchat("a2", "the plan is C", "<replace xmlns='urn:xmpp:message-correct:0' id='a1'/>"))
            deadline = time.monotonic() + 15
            while not s.slack.calls("chat.update") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    run(scenario())
    texts = [p["text"] for p in s.slack.posted()]
    assert texts == ["the plan is A", "(correction) the plan is B", "(retracted an earlier message)"], texts
    assert s.slack.calls("chat.delete") == []
    (update,) = s.slack.calls("chat.update")
    assert update["text"] == "the plan is C" and update["ts"] == s.slack.posted_ts[0]


REPLACE = "{urn:xmpp:message-correct:0}replace"
RETRACT = "{urn:xmpp:message-retract:1}retract"
REPLY = "{urn:xmpp:reply:0}reply"
ORIGIN_ID = "{urn:xmpp:sid:0}origin-id"


def test_slack_edits_deletions_and_threads_reach_the_room_and_back(services, world):
    s = services
    ts = "1700000000.000100"

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.join_room(s.room, "alice")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)

            async def next_from_slack():
                while True:
                    msg = await alice.next_message(timeout=10)
                    if msg.get("from") != f"{s.room}/alice":
                        return msg

            assert s.slack_event(slack_fake.message_event("the plan is A", ts=ts, event_id="EvA"))[0] == 200
            first = await next_from_slack()
            first_id = first.find(ORIGIN_ID).get("id")
            # What replies and retractions in a room name (XEP-0461, XEP-0424): the room's stanza-id.
            room_id = next(e.get("id") for e in first.findall("{urn:xmpp:sid:0}stanza-id") if e.get("by") == s.room)
            assert first.find(BODY_NS).text == "the plan is A"
            # Edited in Slack: corrected in the room (XEP-0308), by the same occupant.
            assert s.slack_event(slack_fake.message_changed_event(ts, "the plan is *B*", "the plan is A",
                                                                  event_id="EvB"))[0] == 200
            edit = await next_from_slack()
            assert edit.get("from") == first.get("from")
            assert edit.find(REPLACE).get("id") == first_id
            assert edit.find(BODY_NS).text == "the plan is *B*"
            # A Slack thread reply to it: an XEP-0461 reply naming it.
            assert s.slack_event(slack_fake.message_event("agreed", user="U024BE7LH", ts="1700000000.000200",
                                                          thread_ts=ts, event_id="EvC"))[0] == 200
            reply = await next_from_slack()
            assert reply.get("from") == f"{s.room}/Bob Ross (slack)"  # no display name: the real name
            assert reply.find(REPLY).get("id") == room_id and reply.find(BODY_NS).text == "agreed"
            # alice answers the Slack message in the room, naming it as clients do there (the room's id): the
            # answer goes into its Slack thread.
            await alice.send_raw(f"<message to='{s.room}' type='groupchat' id='x1'><body>ok then</body>"
                                 f"<reply xmlns='urn:xmpp:reply:0' id='{room_id}'/></message>")
            posted = await asyncio.to_thread(s.slack.wait_for, 1)
            assert posted[0].json()["thread_ts"] == ts and posted[0].json()["text"] == "ok then"
            # Answers to messages inside the thread (Bob's Slack reply, alice's own answer) go into the same
            # thread: Slack's thread_ts names a thread's first message, never a reply.
            own = await alice.next_message(timeout=10)
            while own.get("from") != f"{s.room}/alice":
                own = await alice.next_message(timeout=10)
            assert own.find(BODY_NS).text == "ok then"
            for text, answered in (("me too", reply), ("and again", own)):
                answered_id = next(e.get("id") for e in answered.findall("{urn:xmpp:sid:0}stanza-id")
                                   if e.get("by") == s.room)
                await alice.send_raw(f"<message to='{s.room}' type='groupchat'><body>{text}</body>"
                                     f"<reply xmlns='urn:xmpp:reply:0' id='{answered_id}'/></message>")
            posted = await asyncio.to_thread(s.slack.wait_for, 3)
            assert [(p.json()["text"], p.json().get("thread_ts")) for p in posted[1:]] == \
                [("me too", ts), ("and again", ts)], [p.json() for p in posted]
            # Deleted in Slack: retracted in the room (XEP-0424), with a line for clients that know no retraction.
            assert s.slack_event(slack_fake.message_deleted_event(ts, "the plan is B", event_id="EvD"))[0] == 200
            gone = await next_from_slack()
            assert gone.get("from") == first.get("from")
            assert gone.find(RETRACT).get("id") == room_id
            assert gone.find("{urn:xmpp:fallback:0}fallback").get("for") == "urn:xmpp:message-retract:1"
            # An edit of a message Ferry never bridged: the new text, marked, as a message of its own.
            assert s.slack_event(slack_fake.message_changed_event("1600000000.000001", "late fix", "late fx",
                                                                  event_id="EvE"))[0] == 200
            unknown = await next_from_slack()
            assert unknown.find(REPLACE) is None and unknown.find(BODY_NS).text == "(correction) late fix"
            # Ferry's own post changed by Ferry, and a link preview added: nothing to show.
            assert s.slack_event(slack_fake.message_changed_event(ts, "same", "same", event_id="EvF"))[0] == 200
            await alice.no_message(1.5)

    run(scenario())


def test_matrix_and_telegram_edits_and_deletions_reach_xmpp(services, world):
    s = services
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {HS_TOKEN}"}
    tg_headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}

    def transaction(txn: str, *events: dict) -> None:
        body = json.dumps({"events": list(events)}).encode()
        assert request(f"{s.base}/mx/_matrix/app/v1/transactions/{txn}", body, auth, "PUT") == (200, "{}")

    async def scenario():
        async with Client(world, "alice") as alice:
            transaction("t1", matrix_fake.room_message("teh plan", event_id="$orig:example.org"))
            first = await alice.next_message(timeout=10)
            first_id = first.get("id")
            transaction("t2", matrix_fake.edit("$orig:example.org", "the plan"),
                        matrix_fake.redaction("$orig:example.org"))
            edit = await alice.next_message(timeout=10)
            assert edit.find(REPLACE).get("id") == first_id and edit.find(BODY_NS).text == "the plan"
            assert edit.get("from") == first.get("from")
            gone = await alice.next_message(timeout=10)
            assert gone.find(RETRACT).get("id") == first_id
            # A moderator removes someone else's message: the retraction comes from the author's address, the
            # only one clients accept it from (XEP-0424); the fallback line names who removed it.
            transaction("t3", matrix_fake.room_message("spam", event_id="$spam:example.org"))
            spam = await alice.next_message(timeout=10)
            transaction("t4", matrix_fake.redaction("$spam:example.org", sender="@mod:example.org",
                                                    event_id="$redaction2:example.org"))
            removed = await alice.next_message(timeout=10)
            assert removed.find(RETRACT).get("id") == spam.get("id")
            assert removed.get("from") == spam.get("from") == first.get("from")
            assert removed.find(BODY_NS).text.startswith("@mod:example.org retracted a message"), \
                removed.find(BODY_NS).text

            assert request(f"{s.base}/tg", json.dumps(telegram_fake.update("typo")).encode(), tg_headers)[0] == 200
            typo = await alice.next_message(timeout=10)
            assert request(f"{s.base}/tg", json.dumps(telegram_fake.edited("fixed")).encode(), tg_headers)[0] == 200
            fixed = await alice.next_message(timeout=10)
            assert fixed.find(REPLACE).get("id") == typo.get("id") and fixed.find(BODY_NS).text == "fixed"
            assert fixed.get("from") == f"alice_tg%tg@{world.component_domain}"
            await alice.no_message(1.0)

    run(scenario())


def test_a_long_outage_is_caught_up_from_the_rooms_archive(services, world):
    """More was said while Ferry was away than a room's history holds (20): the archive (XEP-0313), asked
    page by page for everything after the last stanza-id Ferry bridged, gives all of it, once; what Ferry's
    own occupants said there (a Slack user's message) does not go back to Slack."""
    s = services
    said = [f"while away {i}" for i in range(60)]

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.join_room(s.room, "alice")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)
            await alice.send_groupchat(s.room, "before the outage")
            await asyncio.to_thread(s.slack.wait_for, 1)
            deadline = time.monotonic() + 10
            while s.pg.sql("SELECT count(*) FROM room_marks WHERE archive_id <> ''").strip() != "1":
                assert time.monotonic() < deadline, s.pg.sql("SELECT * FROM room_marks")
                await asyncio.sleep(0.1)
            assert s.slack_event(slack_fake.message_event("from slack, before the outage", event_id="EvX"))[0] == 200
            while True:
                msg = await alice.next_message(timeout=10)
                if msg.get("from") == f"{s.room}/spengler (slack)":
                    break
            s.ferry.stop(timeout=5)
            for text in said:
                await alice.send_groupchat(s.room, text)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(s.start)
            posted = await asyncio.to_thread(s.slack.wait_for, 1 + len(said), 60)
            assert [p.json()["text"] for p in posted] == ["before the outage"] + said
            s.ferry.wait_for_log(r"rooms: caught up with " + s.room.replace(".", r"\.") + " from its archive",
                                 timeout=10)
            await alice.send_groupchat(s.room, "after the outage")
            await asyncio.to_thread(s.slack.wait_for, 2 + len(said))
            await asyncio.sleep(1.5)
        texts = [p["text"] for p in s.slack.posted()]
        assert texts == ["before the outage"] + said + ["after the outage"], texts

    run(scenario())


def test_replies_and_retractions_naming_the_rooms_stanza_id_reach_slack(services, world):
    """In a room, XEP-0461 and XEP-0424 name a message by the room's stanza-id (XEP-0359); Ferry knows it
    from the message it bridged."""
    s = services

    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            await alice.join_room(s.room, "alice")
            await bob.join_room(s.room, "bob")
            s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as slack", timeout=10)
            await alice.send_raw(f"<message to='{s.room}' type='groupchat' id='a1'><body>ship it?</body></message>")
            while True:
                seen = await bob.next_message(timeout=10)
                if seen.get("from") == f"{s.room}/alice":
                    break
            stanza_id = next(e.get("id") for e in seen.findall("{urn:xmpp:sid:0}stanza-id") if e.get("by") == s.room)
            assert stanza_id and stanza_id != "a1"
            await asyncio.to_thread(s.slack.wait_for, 1)
            await bob.send_raw(f"<message to='{s.room}' type='groupchat' id='b1'><body>yes</body>"
                               f"<reply xmlns='urn:xmpp:reply:0' id='{stanza_id}' to='{s.room}/alice'/></message>")
            await asyncio.to_thread(s.slack.wait_for, 2)
            await alice.send_raw(f"<message to='{s.room}' type='groupchat' id='a2'>"
                                 f"<retract xmlns='urn:xmpp:message-retract:1' id='{stanza_id}'/></message>")
            deadline = time.monotonic() + 15
            while not s.slack.calls("chat.delete") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    run(scenario())
    posted = s.slack.posted()
    assert [p["text"] for p in posted] == ["ship it?", "yes"], posted
    assert posted[1]["thread_ts"] == s.slack.posted_ts[0]
    (deleted,) = s.slack.calls("chat.delete")
    assert deleted["ts"] == s.slack.posted_ts[0]


def test_a_room_bridged_to_slack_and_matrix_passes_each_on_without_loops(services, world):
    """Slack → room → Matrix and Matrix → room → Slack, each remote sender as their own occupant; the copies
    Ferry's occupants leave in the room go to the other service only, never back where they came from."""
    s = services
    s.cli.ok("mapping", "add", "--xmpp", s.room, "--connector", "mx", "--remote", matrix_fake.ROOM,
             "--direction", "both", "--option", "room=yes")
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {HS_TOKEN}"}

    async def scenario():
        async with Client(world, "bob") as bob:
            await bob.join_room(s.room, "bob")
            for seat in ("slack", "mx"):
                s.ferry.wait_for_log(r"rooms: joined " + s.room.replace(".", r"\.") + " as " + seat, timeout=15)
            assert s.slack_event(slack_fake.message_event("hello from slack", event_id="EvS"))[0] == 200
            sent = await asyncio.to_thread(s.matrix.wait_for, 1)
            assert sent[0].json()["body"] == "spengler (slack): hello from slack", sent[0].json()
            body = json.dumps({"events": [matrix_fake.room_message("hello from matrix", event_id="$m1:example.org")]})
            assert request(f"{s.base}/mx/_matrix/app/v1/transactions/t-loop", body.encode(), auth, "PUT")[0] == 200
            posted = await asyncio.to_thread(s.slack.wait_for, 1)
            assert posted[0].json()["text"] == "hello from matrix"
            assert posted[0].json()["username"] == "Alice Liddell (mx)"
            seen = {}
            while len(seen) < 2:
                msg = await bob.next_message(timeout=10)
                seen[(msg.get("from"), msg.find(BODY_NS).text)] = msg
            assert set(seen) == {(f"{s.room}/spengler (slack)", "hello from slack"),
                                 (f"{s.room}/Alice Liddell (mx)", "hello from matrix")}, seen
            # A Matrix moderator removes Alice's message: the room sees it retracted by Alice's occupant (clients
            # accept a retraction only from the author), and the Slack copy goes too.
            said = seen[(f"{s.room}/Alice Liddell (mx)", "hello from matrix")]
            room_id = next(e.get("id") for e in said.findall("{urn:xmpp:sid:0}stanza-id") if e.get("by") == s.room)
            body = json.dumps({"events": [matrix_fake.redaction("$m1:example.org", sender="@mod:example.org",
                                                                event_id="$r1:example.org")]})
            assert request(f"{s.base}/mx/_matrix/app/v1/transactions/t-mod", body.encode(), auth, "PUT")[0] == 200
            removed = await bob.next_message(timeout=10)
            assert removed.get("from") == f"{s.room}/Alice Liddell (mx)", ET.tostring(removed)
            assert removed.find(RETRACT).get("id") == room_id
            deadline = time.monotonic() + 10
            while not s.slack.calls("chat.delete") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert [c["ts"] for c in s.slack.calls("chat.delete")] == [s.slack.posted_ts[0]]
            # The moderator also removes the Matrix copy of the Slack user's message ($ev1, what Ferry posted):
            # it was not written on Matrix, so it stays in the room and on Slack.
            body = json.dumps({"events": [matrix_fake.redaction("$ev1:example.org", sender="@mod:example.org",
                                                                event_id="$r2:example.org")]})
            assert request(f"{s.base}/mx/_matrix/app/v1/transactions/t-mod2", body.encode(), auth, "PUT")[0] == 200
            await bob.no_message(2.0)
        assert s.pg.sql("SELECT count(*) FROM dead_letters").strip() == "0"
        assert [p["text"] for p in s.slack.posted()] == ["hello from matrix"]
        assert [e[2]["body"] for e in s.matrix.events()] == ["spengler (slack): hello from slack"]

    run(scenario())


def test_message_map_forgets_entries_older_than_90_days(services):
    s = services
    s.pg.sql("INSERT INTO message_map (message_key, system, native_id, conversation, created_at) VALUES "
             "(gen_random_uuid(), 'xmpp', 'old-one', 'mapping:1:out x', now() - interval '91 days'), "
             "(gen_random_uuid(), 'xmpp', 'young-one', 'mapping:1:out x', now() - interval '89 days')")
    s.ferry.wait_for_log(r"message_map: forgot 1 entries older than 90 days", timeout=20)
    assert s.pg.sql("SELECT native_id FROM message_map WHERE native_id LIKE '%-one'").strip() == "young-one"
