"""Consumers through the ASGI middleware under a real server (granian, as a process) with
``examples/gateway-consumers.toml`` (``hide_credentials`` on): the application gets the
consumer's name and never the token, and the rest of the request as the client sent it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import turbojwt
from helpers.nginx import free_port, stop, wait_until

pytestmark = pytest.mark.e2e  # granian as a process

pytest.importorskip("granian")
TESTS = Path(__file__).resolve().parents[1]
EXAMPLE = TESTS.parent / "examples" / "gateway-consumers.toml"
JACK_SECRET = "jack-hs256-secret-of-at-least-32-bytes"


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {
        **os.environ,
        "TURBOJWT_TEST_POLICY": str(EXAMPLE),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--port", str(port)]
        + ["--log-level", "warning", "helpers.consumer_echo_app:app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/").status_code == 401, "granian")
        yield url
    finally:
        stop([(proc, "granian")])


def jack(**claims) -> str:
    return turbojwt.encode({"key": "jack-key", "exp": int(time.time()) + 300, **claims}, JACK_SECRET)


def get(url: str, target: str, headers: list[tuple[str, str]] = ()) -> dict:
    with httpx.Client() as client:
        request = client.build_request("GET", url + "/", headers=list(headers))
        request.url = request.url.copy_with(raw_path=target.encode())
        response = client.send(request)
    assert response.status_code == 200, response.text
    return response.json()


def names(seen: dict) -> list[str]:
    return [k for k, _ in seen["headers"]]


def test_header_token(server):
    seen = get(server, "/orders", [("Authorization", f"Bearer {jack()}"), ("X-Consumer-Username", "admin")])
    assert seen["consumer"] == "jack" and seen["path"] == "/orders"
    assert "authorization" not in names(seen)
    assert [v for k, v in seen["headers"] if k == "x-consumer-username"] == ["jack"]


def test_query_token(server):
    seen = get(server, f"/a?x=%2F+1;y=2&jwt={jack()}&z=%E9")
    assert seen["query"] == "x=%2F+1;y=2&z=%E9" and seen["consumer"] == "jack"


def test_cookie_token(server):
    token = jack()
    seen = get(server, "/", [("Cookie", f"theme=dark; jwt={token}; lang=fr"), ("Authorization", "Basic dTpw")])
    assert ["cookie", "theme=dark; lang=fr"] in seen["headers"]
    assert ["authorization", "Basic dTpw"] in seen["headers"]
    assert all(token not in v for _, v in seen["headers"]) and seen["consumer"] == "jack"


def test_refusals(server):
    with httpx.Client() as client:
        r = client.get(server + "/", headers={"Authorization": f"Bearer {turbojwt.encode({'key': 'x'}, JACK_SECRET)}"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        r = client.get(server + f"/?jwt={jack()}", headers={"Authorization": f"Bearer {jack(sub='x')}"})
        assert r.status_code == 400
