"""Alerts from a real Prometheus Alertmanager into XMPP, through Ferry's webhook and the durable outbox, on
real Prosody and ejabberd: the firing alert and its resolution arrive as readable messages, routing by label
picks the JID, a resend is recognised, and every kind of bad request gets a 4xx JSON reason with nothing
enqueued."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from alertmanager_world import alertmanager_world  # noqa: F401  (module-scoped fixture)
from ferry_process import FERRY_BIN
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from world_base import free_ports
from xmpp_client import Client, run

TOKEN = "am-token-0f3c"
BODY_NS = "{jabber:client}body"
REPLACE = "{urn:xmpp:message-correct:0}replace"


def ferry_cli(pg, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FERRY_DATABASE_URL": pg.url}
    return subprocess.run([FERRY_BIN, *args], capture_output=True, text=True, env=env, timeout=60)


def post(url: str, body: bytes | str, headers: dict[str, str] | None = None, method: str = "POST"):
    """(status, parsed JSON body) of one request; never raises for an HTTP error status."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def alerts(pg_world, world, start_ferry, alertmanager_world):  # noqa: F811
    """Ferry with an `alerts` webhook: critical alerts go to alice, all others to bob."""
    assert ferry_cli(pg_world, "db", "migrate").returncode == 0
    pg_world.sql("DELETE FROM outbox; DELETE FROM dead_letters; DELETE FROM message_map; DELETE FROM inbound_seen; "
                 "DELETE FROM mappings; DELETE FROM accounts; DELETE FROM connectors;")
    for args in (["connector", "add", "alerts", "--kind", "alertmanager", "--setting", f"token={TOKEN}"],
                 ["mapping", "add", "--xmpp", world.jid("alice"), "--connector", "alerts", "--remote",
                  "severity=critical", "--direction", "in"],
                 ["mapping", "add", "--xmpp", world.jid("bob"), "--connector", "alerts", "--remote",
                  "severity!=critical", "--direction", "in"]):
        done = ferry_cli(pg_world, *args)
        assert done.returncode == 0, done.stderr
    (port,) = free_ports(1)
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(port),
                             "FERRY_HTTP_MAX_BODY_SIZE": "65536"})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"http: listening on 127\.0\.0\.1:%d" % port, timeout=10)
    ferry.wait_for_log(r"mapping store: loaded", timeout=10)
    hook = f"http://127.0.0.1:{port}/hooks/alerts"
    alertmanager_world.configure([{"name": "ferry", "url": hook, "bearer_token": TOKEN, "match": None}])
    return ferry, f"http://127.0.0.1:{port}"


def body_of(msg) -> str:
    return msg.find(BODY_NS).text


def test_alert_fires_and_resolves_in_xmpp(alerts, world, alertmanager_world):  # noqa: F811
    ferry, _ = alerts
    labels = {"alertname": "DiskFull", "severity": "critical", "instance": "db-1"}

    async def scenario():
        async with Client(world, "alice") as alice:
            alertmanager_world.fire(labels, {"summary": "Disk almost full", "runbook_url": "https://runbook/disk"},
                                    generator_url="http://prometheus:9090/graph?g0.expr=disk")
            firing = await alice.next_message(timeout=20)
            assert firing.get("from") == f"alerts@{world.component_domain}"
            text = body_of(firing)
            assert text.startswith("[FIRING:1] DiskFull"), text
            assert "critical: Disk almost full on db-1" in text
            assert "runbook: https://runbook/disk" in text
            assert "source: http://prometheus:9090/graph?g0.expr=disk" in text
            assert text.startswith("[FIRING:1] DiskFull (db-1 critical)\n"), text
            # Alertmanager's externalURL (its host name by default) and the group's labels as a filter.
            assert ("/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%2Cinstance%3D%22db-1%22%2C"
                    "severity%3D%22critical%22%7D") in text, text
            alertmanager_world.resolve(labels, {"summary": "Disk almost full"})
            # The firing message is corrected in place (XEP-0308), then a short line tells the news.
            correction = await alice.next_message(timeout=20)
            assert correction.find(REPLACE).get("id") == firing.get("id"), ET.tostring(correction)
            assert body_of(correction).startswith("[RESOLVED] DiskFull (db-1 critical)\n"), body_of(correction)
            assert "✓ critical: Disk almost full on db-1" in body_of(correction)
            line = await alice.next_message(timeout=5)
            assert body_of(line) == "[RESOLVED] DiskFull (db-1 critical)" and line.find(REPLACE) is None
    run(scenario())


def test_each_alert_resolving_corrects_the_message_that_announced_it(alerts, world, alertmanager_world):  # noqa: F811
    """Two alerts of one group fire together; as each resolves, the message that announced it (found by the
    alert's fingerprint) is corrected to show the group's state, and a line says which one resolved; no new
    copy of the whole group is posted."""
    db1 = {"alertname": "DiskFull", "severity": "critical", "instance": "db-1"}
    db2 = {"alertname": "DiskFull", "severity": "critical", "instance": "db-2"}

    async def scenario():
        async with Client(world, "alice") as alice:
            alertmanager_world.fire(db1, {"summary": "Disk almost full"})
            alertmanager_world.fire(db2, {"summary": "Disk almost full"})
            firing = await alice.next_message(timeout=20)
            assert body_of(firing).startswith("[FIRING:2] DiskFull"), body_of(firing)
            alertmanager_world.resolve(db1, {"summary": "Disk almost full"})
            correction = await alice.next_message(timeout=20)
            assert correction.find(REPLACE).get("id") == firing.get("id"), ET.tostring(correction)
            text = body_of(correction)
            assert text.startswith("[FIRING:1] DiskFull") and "✓ critical: Disk almost full on db-1" in text, text
            assert "● critical: Disk almost full on db-2" in text, text
            line = await alice.next_message(timeout=5)
            assert body_of(line) == "[RESOLVED] DiskFull (critical)\n✓ critical: Disk almost full on db-1", body_of(line)
            assert line.find(REPLACE) is None
            alertmanager_world.resolve(db2, {"summary": "Disk almost full"})
            correction = await alice.next_message(timeout=20)
            assert correction.find(REPLACE).get("id") == firing.get("id"), ET.tostring(correction)
            assert body_of(correction).startswith("[RESOLVED] DiskFull"), body_of(correction)
            line = await alice.next_message(timeout=5)
            # Alertmanager leaves db-1, resolved and told, out of this notification: db-2 is all it names.
            assert body_of(line) == "[RESOLVED] DiskFull (db-2 critical)", body_of(line)
            await alice.no_message(2.0)
    run(scenario())


def test_routing_by_label_picks_the_jid(alerts, world, alertmanager_world):  # noqa: F811
    async def scenario():
        async with Client(world, "alice") as alice, Client(world, "bob") as bob:
            # The module's Alertmanager outlives this test: an alert still firing from an earlier run (the other
            # XMPP server) would not be sent again, so each run's alert is its own.
            labels = {"alertname": "SlowQueries", "severity": "warning", "instance": f"db-{world.kind}"}
            alertmanager_world.fire(labels, {"summary": "Queries are slow"})
            warning = await bob.next_message(timeout=20)
            assert body_of(warning).startswith("[FIRING:1] SlowQueries"), body_of(warning)
            await alice.no_message(2.0)
            alertmanager_world.resolve(labels)
            assert body_of(await bob.next_message(timeout=20)).startswith("[RESOLVED] SlowQueries")
    run(scenario())


def test_alerts_for_a_team_go_to_its_room(alerts, world, pg_world, alertmanager_world):  # noqa: F811
    ferry, _ = alerts
    room = f"ops-{world.kind}@{world.muc_domain}"
    done = ferry_cli(pg_world, "mapping", "add", "--xmpp", room, "--connector", "alerts", "--remote", "team=ops",
                     "--direction", "in", "--option", "room=yes", "--option", "nick=Alerts")
    assert done.returncode == 0, done.stderr

    async def scenario():
        async with Client(world, "alice") as alice:
            await alice.join_room(room, "alice")
            labels = {"alertname": f"QueueBacklog-{world.kind}", "team": "ops", "severity": "info", "instance": f"mq-{world.kind}"}
            alertmanager_world.fire(labels, {"summary": "Queue is backing up"})
            while True:  # bob's mapping (severity!=critical) takes it too; alice sees the room's copy
                msg = await alice.next_message(timeout=20)
                if msg.get("type") == "groupchat":
                    break
            assert msg.get("from") == f"{room}/Alerts"
            assert body_of(msg).startswith(f"[FIRING:1] QueueBacklog-{world.kind}"), body_of(msg)
            assert "info: Queue is backing up on mq-" in body_of(msg)
            alertmanager_world.resolve(labels)
            correction = await alice.next_message(timeout=20)
            assert correction.get("type") == "groupchat"
            assert correction.find(REPLACE).get("id") == msg.get("id"), ET.tostring(correction)
            assert body_of(correction).startswith(f"[RESOLVED] QueueBacklog-{world.kind}")
            line = await alice.next_message(timeout=5)
            assert body_of(line).startswith(f"[RESOLVED] QueueBacklog-{world.kind}") and "\n" not in body_of(line)
    run(scenario())
    ferry.wait_for_log(r"rooms: joined " + room.replace(".", r"\.") + " as Alerts", timeout=1)
    # Had Ferry answered the room's reflection of its own message with an error, the room would have thrown
    # it out (both servers remove an occupant that bounces errors).
    assert ferry.count("left the room or was removed") == 0, ferry.log_tail()


@pytest.mark.parametrize("remote, direction, message", [
    ("severity", "in", "is not a label matcher for an alert connector"),
    ("team=ops,", "in", "is not a label matcher"),
    ("*", "out", "an alertmanager connector only receives alerts: use --direction in"),
])
def test_alertmanager_mappings_are_checked(alerts, world, pg_world, remote, direction, message):  # noqa: F811
    done = ferry_cli(pg_world, "mapping", "add", "--xmpp", world.jid("alice"), "--connector", "alerts",
                     "--remote", remote, "--direction", direction)
    assert done.returncode == 2 and done.stdout == "", done
    assert message in done.stderr, done.stderr


def notification(status: str = "firing", group_key: str = '{}:{alertname="Manual"}') -> dict:
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status, "receiver": "ferry",
        "groupLabels": {"alertname": "Manual"},
        "commonLabels": {"alertname": "Manual", "severity": "critical"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": status, "labels": {"alertname": "Manual", "severity": "critical"},
                    "annotations": {"summary": "posted by hand"}, "startsAt": "2026-11-25T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "0123456789abcdef"}],
    }


def test_the_token_may_come_as_basic_auth_or_in_the_path(alerts, world):
    """For senders that only do basic auth (its password is the token) or can only be given a URL."""
    _, base = alerts
    import base64
    basic = {"Authorization": "Basic " + base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alertmanager:guess").decode()}

    async def scenario():
        async with Client(world, "alice") as alice:
            assert post(f"{base}/hooks/alerts", json.dumps(notification(group_key="basic")), basic)[0] == 200
            assert post(f"{base}/hooks/alerts/{TOKEN}", json.dumps(notification(group_key="path")))[0] == 200
            for _ in range(2):
                assert body_of(await alice.next_message(timeout=10)).startswith("[FIRING:1] Manual")
            await alice.no_message(1.0)
    run(scenario())
    for url, headers in ((f"{base}/hooks/alerts", wrong), (f"{base}/hooks/alerts/guess", {}),
                         (f"{base}/hooks/alerts", {"Authorization": "Basic !!!"})):
        status, text = post(url, json.dumps(notification(group_key="refused")), headers)
        assert status == 401 and json.loads(text)["error"], (url, status, text)
    status, text = post(f"{base}/hooks/alerts/{TOKEN}/more", json.dumps(notification(group_key="refused")))
    assert status == 404, text


def test_a_new_token_takes_effect_live_and_can_be_read_back(alerts, pg_world):  # noqa: F811
    """`ferry connector set` while Ferry runs: the old token stops working within a second, the new one works,
    and `--reveal` gives it back for alertmanager.yml. Without mappings, an accepted notification is 422 (no
    mapping takes it) rather than a message that would wait offline for the next test's alice."""
    ferry, base = alerts
    pg_world.sql("DELETE FROM mappings")

    def status(token: str) -> int:
        return post(f"{base}/hooks/alerts", json.dumps(notification(group_key="probe")),
                    {"Authorization": f"Bearer {token}"})[0]

    # A reload the fixture's own changes started may still show the mappings: wait for the one without them.
    deadline = time.monotonic() + 5
    while status(TOKEN) != 422:
        assert time.monotonic() < deadline, "the mappings are still there"
        time.sleep(0.1)
    done = ferry_cli(pg_world, "connector", "set", "alerts", "--setting", "token=rotated-4f1a")
    assert done.returncode == 0, done.stderr
    revealed = ferry_cli(pg_world, "connector", "show", "alerts", "--reveal", "token")
    assert revealed.stdout == "rotated-4f1a\n", revealed
    deadline = time.monotonic() + 5
    while status(TOKEN) != 401:
        assert time.monotonic() < deadline, "the old token still works"
        time.sleep(0.1)
    assert status("rotated-4f1a") == 422


def test_a_hook_without_a_token_takes_nothing_unless_told_to_take_anything(alerts, pg_world):  # noqa: F811
    ferry, base = alerts
    # A connector an older ferry let through without a token: refused, with what to do.
    pg_world.sql("""INSERT INTO connectors (name, kind, settings) VALUES ('legacy', 'alertmanager', '{}')""")
    deadline = time.monotonic() + 5
    while (got := post(f"{base}/hooks/legacy", json.dumps(notification(group_key="legacy"))))[0] == 404:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert got[0] == 403 and "ferry connector set legacy --setting token=" in json.loads(got[1])["error"], got
    # The operator's explicit choice: taken (422: it has no mapping), and said in the log.
    done = ferry_cli(pg_world, "connector", "set", "legacy", "--setting", "auth=none")
    assert done.returncode == 0, done.stderr
    ferry.wait_for_log(r"warning connector legacy takes requests without authentication \(auth=none\)", timeout=5)
    assert post(f"{base}/hooks/legacy", json.dumps(notification(group_key="open")))[0] == 422


def test_a_resend_is_delivered_once(alerts, world):
    _, base = alerts
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def scenario():
        async with Client(world, "alice") as alice:
            first = post(f"{base}/hooks/alerts", json.dumps(notification()), auth)
            assert first == (200, '{"messages":1,"status":"accepted"}\n'), first
            again = post(f"{base}/hooks/alerts", json.dumps(notification()), auth)
            assert again[0] == 200 and json.loads(again[1])["status"] == "duplicate", again
            assert body_of(await alice.next_message(timeout=10)).startswith("[FIRING:1] Manual")
            await alice.no_message(2.0)
    run(scenario())


def test_an_alert_storm_is_coalesced_into_a_digest(alerts, world, pg_world):  # noqa: F811
    _, base = alerts
    pg_world.sql("DELETE FROM mappings")
    done = ferry_cli(pg_world, "mapping", "add", "--xmpp", world.jid("alice"), "--connector", "alerts", "--remote",
                     "*", "--direction", "in", "--option", "alert_rate=2", "--option", "alert_window=3")
    assert done.returncode == 0, done.stderr
    time.sleep(1.5)  # the snapshot reloads within a second
    storm = 8

    async def scenario():
        async with Client(world, "alice") as alice:
            for i in range(storm):
                body = notification(group_key=f"storm-{world.kind}-{i}")
                body["groupLabels"] = {"alertname": f"Storm{i}"}
                assert post(f"{base}/hooks/alerts", json.dumps(body), {"Authorization": f"Bearer {TOKEN}"})[0] == 200
            bodies = []
            covered = 0
            while covered < storm:
                text = body_of(await alice.next_message(timeout=15))
                bodies.append(text)
                if text.startswith("[DIGEST] "):
                    covered += int(text.split()[1])
                else:
                    covered += 1
            assert covered == storm, bodies
            assert len(bodies) < storm, bodies
            digest = next(b for b in bodies if b.startswith("[DIGEST] "))
            assert "alert notifications in a burst (at most 2 messages per 3 s here)" in digest, digest
            assert "\n• [FIRING:1] Storm" in digest, digest
            await alice.no_message(4.0)
    run(scenario())


GRAFANA_EXAMPLE = {  # Grafana's documented webhook body (grafana.com, "Configure the webhook notifier")
    "receiver": "My Super Webhook", "status": "firing", "orgId": 1,
    "alerts": [{
        "status": "firing", "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
        "annotations": {"description": "The system has high memory usage",
                        "runbook_url": "https://myrunbook.com/runbook/1234",
                        "summary": "This alert was triggered for zone us-1"},
        "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
        "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2",
        "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1}}],
    "groupLabels": {}, "commonLabels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
    "commonAnnotations": {}, "externalURL": "https://play.grafana.org/", "version": "1",
    "groupKey": '{}:{alertname="High memory usage"}', "truncatedAlerts": 0,
    "title": "[FIRING:1]  (High memory usage blue us-1)", "state": "alerting", "message": "**Firing**",
}


def test_grafana_alert_reaches_xmpp(alerts, world, pg_world):  # noqa: F811
    _, base = alerts
    for args in (["connector", "add", "grafana", "--kind", "grafana", "--setting", "auth=none"],
                 ["mapping", "add", "--xmpp", world.jid("alice"), "--connector", "grafana", "--remote", "team=blue",
                  "--direction", "in"]):
        done = ferry_cli(pg_world, *args)
        assert done.returncode == 0, done.stderr

    async def scenario():
        async with Client(world, "alice") as alice:
            deadline = time.monotonic() + 5
            while True:  # the new connector is live within a second
                status, text = post(f"{base}/hooks/grafana", json.dumps(GRAFANA_EXAMPLE))
                if status != 404 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert status == 200, text
            msg = await alice.next_message(timeout=10)
            assert msg.get("from") == f"grafana@{world.component_domain}"
            assert body_of(msg).startswith("[FIRING:1] (High memory usage blue us-1)\n"), body_of(msg)
            assert "silence: https://play.grafana.org/alerting/silence/new?" in body_of(msg)
            status, text = post(f"{base}/hooks/grafana", json.dumps({**GRAFANA_EXAMPLE, "version": "4"}))
            assert status == 400 and "not a Grafana alerting notification" in json.loads(text)["error"]
    run(scenario())


BAD_REQUESTS = [
    ("no token", "/hooks/alerts", notification(), {}, "POST", 401, "needs a token"),
    ("wrong token", "/hooks/alerts", notification(), {"Authorization": "Bearer nope"}, "POST", 401, "wrong token"),
    ("not JSON", "/hooks/alerts", "{not json", None, "POST", 400, "the body is not JSON"),
    ("not version 4", "/hooks/alerts", {**notification(), "version": "3"}, None, "POST", 400,
     "payload version \"3\" is not supported"),
    ("no alerts", "/hooks/alerts", {**notification(), "alerts": []}, None, "POST", 400, "has no alerts"),
    ("label not a string", "/hooks/alerts",
     {**notification(), "alerts": [{**notification()["alerts"][0], "labels": {"severity": 3}}]}, None, "POST",
     400, "alerts[0].labels.severity is not a string"),
    ("unknown hook", "/hooks/nope", notification(), None, "POST", 404, "no webhook named \"nope\""),
    ("GET on a hook", "/hooks/alerts", "", None, "GET", 405, "webhooks take POST"),
    ("no mapping takes it", "/hooks/alerts",
     {**notification(), "alerts": [{**notification()["alerts"][0], "labels": {}}]}, None, "POST", 200, None),
    ("too large", "/hooks/alerts", {**notification(), "padding": "x" * 70000}, None, "POST", 413,
     "larger than 65536 bytes"),
    ("unknown path", "/other", "", None, "GET", 404, "nothing here"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_a_json_reason_and_enqueue_nothing(alerts, pg_world, case):  # noqa: F811
    _, base = alerts
    name, path, body, headers, method, status, reason = case
    if headers is None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = body if isinstance(body, str) else json.dumps(body)
    got_status, text = post(base + path, payload, headers, method)
    if name == "no mapping takes it":
        # Labels {} match bob's `severity!=critical`: that is routing, not an error. Without any mapping:
        pg_world.sql("DELETE FROM mappings")
        time.sleep(1.5)  # the snapshot reloads within a second
        got_status, text = post(base + path, json.dumps({**body, "groupKey": "other"}), headers, method)
        status, reason = 422, "no mapping of \"alerts\" takes these alerts"
    assert got_status == status, (got_status, text)
    assert reason in json.loads(text)["error"], text
    assert pg_world.sql("SELECT count(*) FROM outbox WHERE conversation LIKE 'mapping:%:in' AND "
                        "payload->>'text' LIKE '%Manual%' AND payload->>'source_id' = 'other'") == "0"


def test_healthz_and_metrics(alerts, world):
    _, base = alerts
    status, text = post(f"{base}/healthz", "", method="GET")
    assert status == 200 and json.loads(text) == {"status": "ok", "xmpp": "connected", "database": "ok"}
    assert post(f"{base}/hooks/alerts", json.dumps(notification(group_key="metrics")),
                {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    deadline = time.monotonic() + 10
    while True:
        status, text = post(f"{base}/metrics", "", method="GET")
        assert status == 200
        # The depth gauge is left out of a scrape whose database query did not answer in time (slow under ASan).
        delivered = 'ferry_messages_out_total{connector="xmpp"} 1' in text and "ferry_outbox_depth 0" in text
        if delivered or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert 'ferry_messages_in_total{connector="alerts"} 1' in text, text
    assert 'ferry_messages_out_total{connector="xmpp"} 1' in text, text
    assert "ferry_xmpp_connected 1" in text
    assert "ferry_outbox_depth 0" in text
    assert 'ferry_delivery_latency_seconds_count 1' in text
