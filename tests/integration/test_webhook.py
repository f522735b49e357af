"""The generic JSON webhook into XMPP on real Prosody and ejabberd: the text, sender and target picked by JSON
Pointers, GitHub-style X-Hub-Signature-256 checked over the raw body, a delivery id header making a resend a
duplicate, and refusals as 4xx JSON with nothing enqueued."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess

import pytest

from ferry_process import FERRY_BIN
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from test_alertmanager import BODY_NS, post
from world_base import free_ports
from xmpp_client import Client, run

SECRET = "It's a Secret to Everybody"  # GitHub's documented example secret


def ferry_cli(pg, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FERRY_DATABASE_URL": pg.url}
    return subprocess.run([FERRY_BIN, *args], capture_output=True, text=True, env=env, timeout=60)


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "X-GitHub-Delivery": hashlib.md5(body).hexdigest()}


@pytest.fixture
def hook(pg_world, world, start_ferry):  # noqa: F811
    """Ferry with a `ci` webhook: text at /message, sender at /who, target at /channel; builds → alice."""
    assert ferry_cli(pg_world, "db", "migrate").returncode == 0
    pg_world.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
                 "DELETE FROM mappings; DELETE FROM accounts; DELETE FROM connectors;")
    for args in (["connector", "add", "ci", "--kind", "webhook", "--setting", f"secret={SECRET}",
                  "--setting", "text=/message", "--setting", "sender=/who", "--setting", "target=/channel",
                  "--setting", "id_header=X-GitHub-Delivery"],
                 ["mapping", "add", "--xmpp", world.jid("alice"), "--connector", "ci", "--remote", "builds",
                  "--direction", "in"]):
        done = ferry_cli(pg_world, *args)
        assert done.returncode == 0, done.stderr
    (port,) = free_ports(1)
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(port)})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"http: listening on", timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    return f"http://127.0.0.1:{port}/hooks/ci"


def test_signed_message_reaches_xmpp_once(hook, world):
    body = json.dumps({"message": "build #42 passed", "who": "ci-bot", "channel": "builds"}).encode()

    async def scenario():
        async with Client(world, "alice") as alice:
            assert post(hook, body, signed(body)) == (200, '{"messages":1,"status":"accepted"}\n')
            again = post(hook, body, signed(body))  # the same delivery id: a resend
            assert again[0] == 200 and json.loads(again[1])["status"] == "duplicate", again
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "build #42 passed"
            assert msg.get("from") == f"ci-bot%ci@{world.component_domain}"
            await alice.no_message(2.0)
    run(scenario())


def test_github_documented_signature_vector_is_accepted(hook):
    # docs.github.com, "Validating webhook deliveries": this secret and payload give this signature. Ferry checks
    # the signature before the JSON, so an accepted signature shows as "not JSON" and a wrong one as 401.
    documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    status, text = post(hook, b"Hello, World!", {"X-Hub-Signature-256": documented})
    assert status == 400 and "the body is not JSON" in json.loads(text)["error"], text
    status, text = post(hook, b"Hello, World!", {"X-Hub-Signature-256": documented[:-1] + "8"})
    assert status == 401, text


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "body changed", "no text", "no target",
                                  "unknown target", "not JSON"])
def test_refusals(hook, pg_world, case):  # noqa: F811
    good = json.dumps({"message": "hi", "who": "x", "channel": "builds"}).encode()
    bodies = {
        "unsigned": (good, {}, 401, "X-Hub-Signature-256 is missing"),
        "wrong secret": (good, signed(good, "nope"), 401, "does not match"),
        "body changed": (good + b" ", signed(good), 401, "does not match"),
        "no text": (b'{"who": "x", "channel": "builds"}', None, 400, "the body has no text at /message"),
        "no target": (b'{"message": "hi"}', None, 400, "the body has no target at /channel"),
        "unknown target": (b'{"message": "hi", "channel": "other"}', None, 422, 'takes target "other"'),
        "not JSON": (b"{nope", None, 400, "the body is not JSON"),
    }
    body, headers, status, reason = bodies[case]
    got = post(hook, body, signed(body) if headers is None else headers)
    assert got[0] == status, got
    assert reason in json.loads(got[1])["error"], got
    assert pg_world.sql("SELECT count(*) FROM outbox") == "0"


def test_template_makes_the_text_from_the_body(pg_world, world, start_ferry):  # noqa: F811
    """A GitHub push event (its documented shape, trimmed) written by the connector's template."""
    assert ferry_cli(pg_world, "db", "migrate").returncode == 0
    pg_world.sql("DELETE FROM outbox; DELETE FROM inbound_seen; DELETE FROM mappings; DELETE FROM connectors;")
    template = ("{{#if commits}}{{pusher.name}} pushed {{#each commits}}{{#if @index}}, {{/if}}{{message}}{{/each}} "
                "to {{repository.full_name}}{{#if forced}} (forced){{/if}}{{/if}}")
    for args in (["connector", "add", "gh", "--kind", "webhook", "--setting", f"template={template}",
                  "--setting", "sender=/sender/login", "--setting", f"secret={SECRET}"],
                 ["mapping", "add", "--xmpp", world.jid("alice"), "--connector", "gh", "--remote", "*",
                  "--direction", "in"]):
        done = ferry_cli(pg_world, *args)
        assert done.returncode == 0, done.stderr
    (port,) = free_ports(1)
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(port)})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    push = {"ref": "refs/heads/main", "forced": False, "repository": {"full_name": "octo-org/ferry"},
            "pusher": {"name": "octocat", "email": "octocat@github.com"}, "sender": {"login": "octocat"},
            "commits": [{"id": "0d1a26e6", "message": "Fix the <b>parser</b>"}, {"id": "b1c2d3e4", "message": "Add tests"}]}

    async def scenario():
        async with Client(world, "alice") as alice:
            body = json.dumps(push).encode()
            status, text = post(f"http://127.0.0.1:{port}/hooks/gh", body, signed(body))
            assert status == 200, text
            msg = await alice.next_message(timeout=10)
            assert msg.find(BODY_NS).text == "octocat pushed Fix the <b>parser</b>, Add tests to octo-org/ferry"
            assert msg.get("from") == f"octocat%gh@{world.component_domain}"
    run(scenario())
    # GitHub's ping event has no commits: the template makes no text of it.
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    status, text = post(f"http://127.0.0.1:{port}/hooks/gh", ping, signed(ping))
    assert status == 400 and "template makes no text" in json.loads(text)["error"], text


@pytest.mark.parametrize("setting, message", [
    ("template={{#if x}}unclosed", "template:"),
    ("text=message", "text is a JSON Pointer such as /message/text (RFC 6901), not \"message\""),
    ("target=/a~2b", "target is a JSON Pointer"),
    ("colour=red", "unknown setting \"colour\""),
])
def test_bad_webhook_settings(pg_world, setting, message):  # noqa: F811
    assert ferry_cli(pg_world, "db", "migrate").returncode == 0
    done = ferry_cli(pg_world, "connector", "add", "badhook", "--kind", "webhook", "--setting", setting)
    assert done.returncode == 2, done
    assert message in done.stderr, done.stderr
