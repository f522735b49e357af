"""The HTTP listener with TLS (http.tls_certificate / http.tls_key): HTTPS answers with the configured
certificate, plain HTTP on that port gets no answer, and a missing key is a clear start-up error."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess

import pytest

from ferry_cli import Cli
from pg_world import pg_world  # noqa: F401  (module-scoped fixture)
from world_base import free_ports


@pytest.fixture
def certificate(tmp_path, pg_world, ferry_binary):  # noqa: F811
    assert Cli(ferry_binary, pg_world.url)("db", "migrate").returncode == 0
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_https_listener_serves_with_its_certificate(pg_world, world, start_ferry, certificate):  # noqa: F811
    cert, key = certificate
    (port,) = free_ports(1)
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(port),
                             "FERRY_HTTP_TLS_CERTIFICATE": str(cert), "FERRY_HTTP_TLS_KEY": str(key)})
    ferry.wait_connected(timeout=10)
    ferry.wait_for_log(r"http: listening on https://127\.0\.0\.1:" + str(port), timeout=10)
    context = ssl.create_default_context(cafile=str(cert))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["status"] == "ok"
    # The certificate is the one configured: a client that does not trust it refuses.
    strict = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        strict.request("GET", "/healthz")
    # Plain HTTP to the HTTPS port is not answered as HTTP.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(10)
        try:
            answer = raw.recv(100)
        except (ConnectionResetError, socket.timeout):
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200"), answer


def test_https_without_its_key_does_not_start(pg_world, world, start_ferry, certificate, tmp_path):  # noqa: F811
    cert, _ = certificate
    (port,) = free_ports(1)
    ferry = start_ferry(env={"FERRY_DATABASE_URL": pg_world.url, "FERRY_HTTP_PORT": str(port),
                             "FERRY_HTTP_TLS_CERTIFICATE": str(cert),
                             "FERRY_HTTP_TLS_KEY": str(tmp_path / "missing.pem")})
    assert ferry.wait_exit(timeout=15) not in (None, 0)
    assert ferry.count("cannot load the HTTPS key") == 1, ferry.log_tail()
