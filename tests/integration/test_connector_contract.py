"""The contract every outbound connector keeps, checked the same way for each: the `log` connector and every
preset that sends (against its fake in tests/fakes, or, for `http-json`, any JSON endpoint).

- delivered: one XMPP message is one request to the service (or one line), carrying its text; nothing stays
  in the outbox and nothing becomes a dead letter;
- retried: a transient failure (503) is tried again with the same request (the same idempotency key where the
  service takes one), and the message arrives once;
- Retry-After: a 429 waits as long as the service said before the next attempt;
- failed: a permanent refusal (400) becomes a dead letter and the XMPP sender receives an error naming it.

What a connector sends is checked per service in test_rest_outbound.py; this is what they all share. The XMPP
server plays no part in the contract: it runs against Prosody only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Callable

import pytest

import discord as discord_fake
import matrix as matrix_fake
import mattermost as mattermost_fake
import rocketchat as rocketchat_fake
import slack as slack_fake
import telegram as telegram_fake
from fake_http import Answer, FakeService, Recorded, json_answer
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from test_rest_outbound import Bridge, error_of
from xmpp_client import Client, run

TEXT = "contract check"


class JsonEndpoint(FakeService):
    """Any JSON-over-HTTP endpoint, as the http-json preset expects: 2xx for a JSON POST."""

    def answer(self, request: Recorded) -> Answer:
        if request.method != "POST":
            return json_answer(405, {"error": "POST only"})
        try:
            request.json()
        except ValueError:
            return json_answer(400, {"error": "not JSON"})
        return json_answer(200, {"received": True})


@dataclass
class Service:
    fake: FakeService
    kind: str
    settings: dict[str, str]
    remote: str
    text_of: Callable[[Recorded], str]  # the message text in an accepted request
    rate_limited: Answer  # the service's own 429 (Retry-After in its header or its body)
    waits: float  # seconds that 429 asks for


def generic_429(seconds: int) -> Answer:
    return json_answer(429, {"error": "rate limited"}, {"Retry-After": str(seconds)})


def make_service(kind: str) -> Service:
    if kind == "slack":
        f = slack_fake.Slack()
        return Service(f, kind, {"token": f.token, "base_url": f.api_url}, "C0LAN2Q65",
                       lambda r: r.json()["text"], slack_fake.rate_limited(2), 2)
    if kind == "slack-webhook":
        f = slack_fake.Slack()
        return Service(f, kind, {"webhook_url": f.webhook_url}, "ops", lambda r: r.json()["text"],
                       generic_429(2), 2)
    if kind == "mattermost":
        f = mattermost_fake.Mattermost()
        return Service(f, kind, {"webhook_url": f.webhook_url}, "town-square", lambda r: r.json()["text"],
                       generic_429(2), 2)
    if kind == "rocketchat":
        f = rocketchat_fake.RocketChat()
        return Service(f, kind, {"webhook_url": f.webhook_url}, "#general", lambda r: r.json()["text"],
                       generic_429(2), 2)
    if kind == "discord":
        f = discord_fake.Discord()
        return Service(f, kind, {"webhook_url": f.webhook_url}, "ops", lambda r: r.json()["content"],
                       discord_fake.rate_limited(1.5), 1.5)
    if kind == "matrix":
        f = matrix_fake.Matrix()
        return Service(f, kind, {"token": f.token, "base_url": f.url, "bot_user": "@ferry:example.org"},
                       matrix_fake.ROOM, lambda r: r.json()["body"], matrix_fake.rate_limited(1500), 1.5)
    if kind == "telegram":
        f = telegram_fake.Telegram()
        return Service(f, kind, {"token": telegram_fake.TOKEN, "base_url": f.url}, str(telegram_fake.CHAT),
                       lambda r: r.json()["text"], telegram_fake.rate_limited(2), 2)
    if kind == "http-json":
        f = JsonEndpoint()
        return Service(f, kind, {"url": f.url + "/notify"}, "any", lambda r: r.json()["text"], generic_429(2), 2)
    raise AssertionError(kind)


SENDING_KINDS = ["slack", "slack-webhook", "mattermost", "rocketchat", "discord", "matrix", "telegram", "http-json"]


@pytest.fixture
def prosody_only(world):
    if world.kind != "prosody":
        pytest.skip("the connector contract does not involve the XMPP server")
    return world


@pytest.fixture
def contract(request, pg_world, prosody_only, start_ferry, ferry_binary):  # noqa: F811
    made: list[Service] = []

    def make(kind: str) -> tuple[Service, Bridge]:
        service = make_service(kind)
        made.append(service)
        bridge = Bridge(pg_world, prosody_only, start_ferry, ferry_binary, kind,
                        {"allow_private": "yes", "pace_ms": "0", **service.settings}, service.remote)
        return service, bridge

    yield make
    for service in made:
        service.fake.close()


def accepted_texts(service: Service) -> list[str]:
    return [service.text_of(r) for r in service.fake.taken() if service.fake.counts(r)]


def no_dead_letters(bridge: Bridge) -> None:
    assert bridge.pg.sql("SELECT count(*) FROM dead_letters").strip() == "0", \
        bridge.pg.sql("SELECT reason FROM dead_letters")


@pytest.mark.parametrize("kind", SENDING_KINDS)
def test_delivered_once_with_its_text(kind, contract):
    service, bridge = contract(kind)
    bridge.send(TEXT)
    service.fake.wait_for(1, timeout=20)
    bridge.outbox_empty()
    texts = accepted_texts(service)
    assert len(texts) == 1 and TEXT in texts[0], texts
    no_dead_letters(bridge)


@pytest.mark.parametrize("kind", SENDING_KINDS)
def test_a_transient_failure_is_retried_with_the_same_request(kind, contract):
    service, bridge = contract(kind)
    service.fake.script(json_answer(503, {"error": "maintenance"}))
    bridge.send(TEXT)
    service.fake.wait_for(1, timeout=30)
    bridge.outbox_empty()
    attempts = [r for r in service.fake.requests if service.fake.counts(r)]
    assert [r.status for r in attempts] == [503, 200], [r.status for r in attempts]
    first, second = attempts
    # The same request again: the same idempotency key (Matrix's txnId is in the path) and the same body.
    assert (first.method, first.path, first.body) == (second.method, second.path, second.body)
    assert len(accepted_texts(service)) == 1
    no_dead_letters(bridge)


@pytest.mark.parametrize("kind", SENDING_KINDS)
def test_a_rate_limit_is_waited_out(kind, contract):
    service, bridge = contract(kind)
    service.fake.script(service.rate_limited)
    bridge.send(TEXT)
    service.fake.wait_for(1, timeout=30)
    attempts = [r for r in service.fake.requests if service.fake.counts(r)]
    assert [r.status for r in attempts] == [429, 200], [r.status for r in attempts]
    gap = attempts[1].received_at - attempts[0].received_at
    assert gap >= service.waits - 0.2, f"the next attempt came after {gap:.2f} s, not {service.waits} s"
    bridge.outbox_empty()
    no_dead_letters(bridge)


@pytest.mark.parametrize("kind", SENDING_KINDS)
def test_a_permanent_refusal_is_a_dead_letter_and_the_sender_is_told(kind, contract, prosody_only):
    service, bridge = contract(kind)
    service.fake.script(json_answer(400, {"error": "this request cannot work"}))

    async def scenario():
        async with Client(prosody_only, "alice") as alice:
            await alice.send_message(bridge.target, TEXT, id="doomed")
            condition, text = error_of(await alice.next_message_error(timeout=20))
            assert condition is not None and "400" in text, (condition, text)
    run(scenario())
    assert "400" in bridge.pg.sql("SELECT reason FROM dead_letters")
    bridge.outbox_empty()
    assert accepted_texts(service) == []


def test_the_log_connector_writes_one_line_per_message(pg_world, prosody_only, start_ferry, ferry_binary,  # noqa: F811
                                                       tmp_path):
    path = tmp_path / "contract.jsonl"
    bridge = Bridge(pg_world, prosody_only, start_ferry, ferry_binary, "log", {"path": str(path)}, "ops")
    bridge.send(TEXT, TEXT + " again")
    bridge.outbox_empty()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["message"]["text"] for line in lines] == [TEXT, TEXT + " again"]
    assert len({line["idempotency_key"] for line in lines}) == 2
    no_dead_letters(bridge)


def test_the_log_connector_keeps_what_it_cannot_write_and_writes_it_later(pg_world, prosody_only,  # noqa: F811
                                                                          start_ferry, ferry_binary, tmp_path):
    folder = tmp_path / "not-yet"
    path = folder / "contract.jsonl"
    bridge = Bridge(pg_world, prosody_only, start_ferry, ferry_binary, "log", {"path": str(path)}, "ops")
    bridge.send(TEXT)
    deadline = time.monotonic() + 10
    while "cannot open" not in bridge.pg.sql("SELECT coalesce(last_error, '') FROM outbox"):
        assert time.monotonic() < deadline, bridge.pg.sql("SELECT attempts, last_error FROM outbox")
        time.sleep(0.1)
    os.makedirs(folder)
    bridge.outbox_empty(timeout=30)
    assert [json.loads(line)["message"]["text"] for line in path.read_text().splitlines()] == [TEXT]
    no_dead_letters(bridge)
