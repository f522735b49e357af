"""Self-test of the private Alertmanager (alertmanager_world.py) against a tiny webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alertmanager_world import alertmanager_world  # noqa: F401  (the module-scoped fixture)

DEADLINE = 15.0


class Hook:
    """An HTTP server on 127.0.0.1 and a free port that records every POST (path, headers, JSON body)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self._cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsed": body.decode(errors="replace")}
                with hook._cond:
                    hook.posts.append({"path": self.path, "headers": dict(self.headers), "json": payload})
                    hook._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def wait_for(self, predicate, what: str, timeout: float = DEADLINE) -> dict:
        """The first recorded POST matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for post in self.posts:
                    if predicate(post):
                        return post
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no webhook POST with {what} within {timeout} s; got: {self.posts}")
                self._cond.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def _about(alertname: str, status: str):
    def match(post: dict) -> bool:
        j = post["json"]
        return j.get("status") == status and j.get("groupLabels", {}).get("alertname") == alertname
    return match


def test_fire_and_resolve_reach_the_webhook(alertmanager_world, hook):  # noqa: F811
    am = alertmanager_world
    am.configure([{"name": "ops", "url": hook.url("/hook"), "bearer_token": "tok-123", "match": None}])
    labels = {"alertname": "FerrySelfTest", "severity": "warning", "instance": "ferry-1"}
    am.fire(labels, {"summary": "self-test alert"}, generator_url="http://example.invalid/graph")

    firing = hook.wait_for(_about("FerrySelfTest", "firing"), "status firing")
    j = firing["json"]
    assert firing["path"] == "/hook"
    assert j["version"] == "4"
    assert j["receiver"] == "ops"
    assert j["groupKey"]
    assert len(j["alerts"]) == 1
    alert = j["alerts"][0]
    assert alert["status"] == "firing"
    assert alert["labels"] == labels
    assert alert["annotations"] == {"summary": "self-test alert"}
    assert alert["generatorURL"] == "http://example.invalid/graph"
    assert alert["fingerprint"]
    assert firing["headers"].get("Authorization") == "Bearer tok-123"

    am.resolve(labels)
    resolved = hook.wait_for(_about("FerrySelfTest", "resolved"), "status resolved")
    r = resolved["json"]
    assert r["version"] == "4"
    assert r["groupKey"] == j["groupKey"]
    assert r["alerts"][0]["status"] == "resolved"
    assert r["alerts"][0]["labels"] == labels
    assert r["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["headers"].get("Authorization") == "Bearer tok-123"


def test_reload_routes_by_matchers(alertmanager_world, hook):  # noqa: F811
    am = alertmanager_world
    # Reconfigures the running server: a default receiver and a child route for critical alerts.
    am.configure([
        {"name": "default", "url": hook.url("/default"), "bearer_token": None, "match": None},
        {"name": "pager", "url": hook.url("/pager"), "bearer_token": "pager-tok",
         "match": {"severity": "critical", "team": 'ops "blue"'}},
    ])
    crit = {"alertname": "FerryCritical", "severity": "critical", "team": 'ops "blue"'}
    warn = {"alertname": "FerryWarning", "severity": "warning", "team": 'ops "blue"'}
    am.fire(crit)
    am.fire(warn)

    paged = hook.wait_for(_about("FerryCritical", "firing"), "FerryCritical firing")
    assert paged["path"] == "/pager"
    assert paged["json"]["receiver"] == "pager"
    assert paged["headers"].get("Authorization") == "Bearer pager-tok"

    default = hook.wait_for(_about("FerryWarning", "firing"), "FerryWarning firing")
    assert default["path"] == "/default"
    assert default["json"]["receiver"] == "default"
    assert "Authorization" not in default["headers"]

    am.resolve(crit)
    am.resolve(warn)
    hook.wait_for(_about("FerryCritical", "resolved"), "FerryCritical resolved")
    hook.wait_for(_about("FerryWarning", "resolved"), "FerryWarning resolved")
    # continue: false — the critical alert went to the pager only.
    assert all(p["path"] == "/pager" for p in hook.posts if _about("FerryCritical", "firing")(p)
               or _about("FerryCritical", "resolved")(p))
