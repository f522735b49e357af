"""Ferry's component core against real servers: every test runs on Prosody and on ejabberd.

A real client (slixmpp, logged in as alice) asks Ferry (the component domain) and checks what
comes back; the connection tests kill, restart, pause and resume the server under Ferry.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from ferry_process import KEEPALIVE_TIMEOUT_RE
from xmpp_client import Client, q, run, stanza_error

DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
VERSION = "jabber:iq:version"
PING = "urn:xmpp:ping"
TIME = "urn:xmpp:time"
IMPLEMENTED_FEATURES = {DISCO_INFO, DISCO_ITEMS, VERSION, PING, TIME}

# Reconnect backoff is 0.2..1 s in these tests; "a few seconds" once the server is back.
RECONNECT_BOUND = 5.0
# How long the server stays dead before it is started again: long enough for several refused
# connection attempts (Prosody would otherwise be back before Ferry's first retry).
DOWNTIME = 1.5


def ask(world, type_: str, payload: str):
    """One IQ from a freshly logged-in alice to Ferry; returns the reply element."""
    async def scenario():
        async with Client(world, "alice") as alice:
            return await alice.iq(type_, world.component_domain, payload)
    return run(scenario())


def assert_result(reply, what: str):
    assert reply.get("type") == "result", f"{what}: expected a result, got {reply.get('type')}: {stanza_error(reply)}"


def assert_ping_answered(world):
    reply = ask(world, "get", f"<ping xmlns='{PING}'/>")
    assert_result(reply, "ping")
    assert list(reply) == [], "a ping result has no payload"


def test_disco_info_advertises_gateway_and_exactly_the_implemented_features(world, ferry):
    reply = ask(world, "get", f"<query xmlns='{DISCO_INFO}'/>")
    assert_result(reply, "disco#info")
    assert reply.get("from") == world.component_domain
    query = reply.find(q("query", DISCO_INFO))
    assert query is not None, "disco#info result without <query/>"
    identities = query.findall(q("identity", DISCO_INFO))
    assert any(i.get("category") == "gateway" and i.get("type") for i in identities), (
        f"no gateway identity: {[i.attrib for i in identities]}"
    )
    features = [f.get("var") for f in query.findall(q("feature", DISCO_INFO))]
    assert len(features) == len(set(features)), f"duplicate features: {features}"
    assert set(features) == IMPLEMENTED_FEATURES


def test_disco_items_answers_with_a_result(world, ferry):
    reply = ask(world, "get", f"<query xmlns='{DISCO_ITEMS}'/>")
    assert_result(reply, "disco#items")
    assert reply.find(q("query", DISCO_ITEMS)) is not None, "disco#items result without <query/>"


def test_version_is_ferry_with_a_version(world, ferry):
    reply = ask(world, "get", f"<query xmlns='{VERSION}'/>")
    assert_result(reply, "version")
    query = reply.find(q("query", VERSION))
    assert query is not None
    assert (query.findtext(q("name", VERSION)) or "").strip() == "Ferry"
    assert (query.findtext(q("version", VERSION)) or "").strip() != ""


def test_ping_gets_an_empty_result(world, ferry):
    assert_ping_answered(world)


def test_time_gives_offset_and_current_utc(world, ferry):
    reply = ask(world, "get", f"<time xmlns='{TIME}'/>")
    assert_result(reply, "time")
    t = reply.find(q("time", TIME))
    assert t is not None, "time result without <time/>"
    tzo = t.findtext(q("tzo", TIME)) or ""
    assert re.fullmatch(r"[+-](0\d|1[0-4]):[0-5]\d", tzo), f"bad <tzo>: {tzo!r}"
    utc = t.findtext(q("utc", TIME)) or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", utc), f"bad <utc>: {utc!r}"
    when = datetime.fromisoformat(utc.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 60, f"<utc> {utc} is not now"


def test_unknown_iq_get_is_service_unavailable(world, ferry):
    reply = ask(world, "get", "<query xmlns='urn:example:nothing'/>")
    assert reply.get("type") == "error"
    assert reply.get("from") == world.component_domain
    assert stanza_error(reply) == ("cancel", "service-unavailable")


def test_unknown_iq_set_is_service_unavailable(world, ferry):
    reply = ask(world, "set", "<query xmlns='urn:example:nothing'><x/></query>")
    assert reply.get("type") == "error"
    assert reply.get("from") == world.component_domain
    assert stanza_error(reply) == ("cancel", "service-unavailable")


def test_message_to_unknown_address_bounces_service_unavailable(world, ferry):
    nobody = f"nobody@{world.component_domain}"

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.send_message(nobody, "hello?")
            return await alice.next_message_error(timeout=5)

    err = run(scenario())
    assert err.get("from") == nobody
    assert stanza_error(err) == ("cancel", "service-unavailable")


def test_wrong_secret_exits_3_with_not_authorized(world, start_ferry):
    f = start_ferry(secret="not-the-secret")
    rc = f.wait_exit(timeout=10)
    assert rc is not None, f"Ferry still running 10 s after a wrong secret:\n{f.log_tail()}"
    assert rc == 3, f"exit code {rc}, expected 3:\n{f.log_tail()}"
    assert "not-authorized" in f.log(), f.log_tail()


def test_reconnects_after_server_killed_and_restarted(world, ferry):
    before = ferry.connected_count()
    world.kill()
    time.sleep(DOWNTIME)
    world.start()
    ferry.wait_connected(timeout=RECONNECT_BOUND, more_than=before)
    assert_ping_answered(world)


def test_detects_half_open_connection_by_keepalive_and_reconnects(world, ferry):
    before = ferry.connected_count()
    timeouts = ferry.count(KEEPALIVE_TIMEOUT_RE)
    world.pause()
    try:
        ferry.wait_for_log(KEEPALIVE_TIMEOUT_RE, timeout=5, more_than=timeouts)
    finally:
        world.resume()
    ferry.wait_connected(timeout=RECONNECT_BOUND, more_than=before)
    assert_ping_answered(world)


def test_sigterm_exits_0_within_5_seconds(world, ferry):
    started = time.monotonic()
    rc = ferry.stop(timeout=5)
    assert rc is not None, f"Ferry still running 5 s after SIGTERM:\n{ferry.log_tail()}"
    assert rc == 0, f"exit code {rc} after SIGTERM:\n{ferry.log_tail()}"
    assert time.monotonic() - started < 5


def test_sigterm_while_server_down_exits_0_within_5_seconds(world, ferry):
    world.kill()  # the world fixture starts it again for the next test
    time.sleep(DOWNTIME)  # Ferry is now between (or in) reconnection attempts
    started = time.monotonic()
    rc = ferry.stop(timeout=5)
    assert rc is not None, f"Ferry still running 5 s after SIGTERM:\n{ferry.log_tail()}"
    assert rc == 0, f"exit code {rc} after SIGTERM:\n{ferry.log_tail()}"
    assert time.monotonic() - started < 5
