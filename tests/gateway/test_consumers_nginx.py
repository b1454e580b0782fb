"""Consumers end to end with real parts: nginx (``auth_request``, configured by
``examples/nginx-consumers.conf`` itself, only its ports and paths changed) in front of an
upstream that echoes the request it received, and ``turbojwt serve`` with the consumers of
``examples/gateway-consumers.toml`` (``hide_credentials`` on). The upstream gets
``X-Consumer-Username`` and never the token: not in ``Authorization``, not in the query, not
in a cookie; everything else of the request arrives byte for byte."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

import turbojwt
from helpers.nginx import free_port, require_nginx, stop, wait_until
from helpers.upstream import Upstream

pytestmark = pytest.mark.e2e  # nginx and `turbojwt serve` as processes

NGINX = require_nginx()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JACK_SECRET = "jack-hs256-secret-of-at-least-32-bytes"
JILL_SECRET = base64.b64decode("i8imvHImfJ+1S3++fOlr6DksLYbU7LvfNsN2ose0de0I0LURgX+cqLBk/xKCdRbs")


def echo_request(request: BaseHTTPRequestHandler) -> bytes:
    """The upstream's answer: the request target and every header it received (in order,
    duplicates kept)."""
    headers = [[k.lower(), v] for k, v in request.headers.items()]
    return json.dumps({"target": request.path, "headers": headers}).encode()


def _once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not once in examples/nginx-consumers.conf"
    return text.replace(old, new)


def nginx_conf(tmp: Path, port: int, auth_port: int, upstream_port: int) -> str:
    server = (EXAMPLES / "nginx-consumers.conf").read_text()
    server = _once(server, "listen 80;", f"listen 127.0.0.1:{port};")
    server = _once(server, "http://127.0.0.1:9000/", f"http://127.0.0.1:{auth_port}/")
    server = _once(server, "http://127.0.0.1:8080", f"http://127.0.0.1:{upstream_port}")
    return f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{server}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx-consumers")
    upstream = Upstream(echo_request)
    auth_port, port = free_port(), free_port()
    # The example policy, plus a consumer whose name is not plain ASCII.
    policy = (EXAMPLES / "gateway-consumers.toml").read_text() + (
        '\n[[consumer]]\nname = "Zoë"\nkey = "zoe-key"\nsecret = "zoe-secret-of-at-least-thirty-two-bytes"\n'
    )
    (tmp / "gateway.toml").write_text(policy)
    serve = subprocess.Popen(
        [sys.executable, "-m", "turbojwt", "serve", "--config", str(tmp / "gateway.toml"), "--port", str(auth_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, port, auth_port, upstream.port))
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{auth_port}/healthz").status_code == 200, "turbojwt serve")
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/").status_code == 401, "nginx")
        yield {"url": f"http://127.0.0.1:{port}", "auth": f"http://127.0.0.1:{auth_port}"}
    finally:
        stop([(nginx, "nginx"), (serve, "turbojwt serve")])
        upstream.stop()


def jack(**claims) -> str:
    return turbojwt.encode({"key": "jack-key", "exp": int(time.time()) + 300, **claims}, JACK_SECRET)


def get(stack, target: str, headers: list[tuple[str, str]] = ()) -> httpx.Response:
    # The target goes out as written (httpx would re-encode a URL).
    with httpx.Client() as client:
        request = client.build_request("GET", stack["url"] + "/", headers=list(headers))
        request.url = request.url.copy_with(raw_path=target.encode())
        return client.send(request)


def upstream_saw(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 200, response.text
    seen = response.json()
    headers: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        headers.setdefault(name, []).append(value)
    return seen["target"], headers


def test_a_bearer_token_reaches_the_upstream_as_its_consumer_only(stack):
    target, headers = upstream_saw(get(stack, "/orders/1", [("Authorization", f"Bearer {jack()}")]))
    assert target == "/orders/1"
    assert headers["x-consumer-username"] == ["jack"]
    assert "authorization" not in headers and "cookie" not in headers


def test_each_consumer_is_verified_with_its_own_key(stack):
    jill = turbojwt.encode({"key": "jill-key", "exp": int(time.time()) + 300}, JILL_SECRET, algorithm="HS384")
    _, headers = upstream_saw(get(stack, "/", [("Authorization", f"Bearer {jill}")]))
    assert headers["x-consumer-username"] == ["jill"]
    # Another secret signing a token that names jill: refused, nothing reaches the upstream.
    forged = turbojwt.encode({"key": "jill-key"}, JACK_SECRET * 2, algorithm="HS384")
    r = get(stack, "/", [("Authorization", f"Bearer {forged}")])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_the_query_token_is_removed_and_the_rest_of_the_uri_kept_byte_for_byte(stack):
    target, headers = upstream_saw(get(stack, f"/a%2Fb/c?x=1;y=%C3%A9+z&jwt={jack()}&empty=&x=2"))
    assert target == "/a%2Fb/c?x=1;y=%C3%A9+z&empty=&x=2"
    assert headers["x-consumer-username"] == ["jack"]
    target, _ = upstream_saw(get(stack, f"/only?jwt={jack()}"))
    assert target == "/only"
    # The name as parsers read it: percent-encoded, it is still the token parameter.
    target, headers = upstream_saw(get(stack, f"/p?j%77t={jack()}&a=1"))
    assert target == "/p?a=1" and headers["x-consumer-username"] == ["jack"]


def test_the_cookie_token_is_removed_and_other_cookies_kept(stack):
    sent = [("Cookie", f"theme=dark; jwt={jack()}; lang=fr"), ("Authorization", "Basic dXNlcjpwdw==")]
    _, headers = upstream_saw(get(stack, "/", sent))
    assert headers["cookie"] == ["theme=dark; lang=fr"]
    # An Authorization header of another scheme is not the token: it goes on as it was.
    assert headers["authorization"] == ["Basic dXNlcjpwdw=="]
    assert headers["x-consumer-username"] == ["jack"]
    _, headers = upstream_saw(get(stack, "/", [("Cookie", f"jwt={jack()}")]))
    assert "cookie" not in headers


def test_a_client_cannot_name_its_own_consumer(stack):
    sent = [("Authorization", f"Bearer {jack()}"), ("X-Consumer-Username", "admin")]
    _, headers = upstream_saw(get(stack, "/", sent))
    assert headers["x-consumer-username"] == ["jack"]


def test_the_consumer_name_is_encoded_like_a_claim(stack):
    zoe = turbojwt.encode({"key": "zoe-key"}, "zoe-secret-of-at-least-thirty-two-bytes")
    _, headers = upstream_saw(get(stack, "/", [("Authorization", f"Bearer {zoe}")]))
    assert headers["x-consumer-username"] == ["Zo%C3%AB"]


@pytest.mark.parametrize(
    "claims",
    [{"key": "nobody"}, {"key": ["jack-key"]}, {"key": {"k": "jack-key"}}, {"key": 1}, {"key": None}, {}],
    ids=["unknown", "list", "object", "number", "null", "absent"],
)
def test_a_token_naming_no_consumer_is_refused(stack, claims):
    token = turbojwt.encode(claims, JACK_SECRET)
    r = get(stack, "/", [("Authorization", f"Bearer {token}")])
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="jwt", error="invalid_token"')


def test_grace_period_and_expiry(stack):
    # lifetime_grace_period = 10 for jack: 5 s past exp passes, 60 s past does not.
    assert get(stack, "/", [("Authorization", f"Bearer {jack(exp=int(time.time()) - 5)}")]).status_code == 200
    r = get(stack, "/", [("Authorization", f"Bearer {jack(exp=int(time.time()) - 60)}")])
    assert r.status_code == 401 and "expired" in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    "where",
    [
        lambda t, u: ("/?jwt=" + u, [("Authorization", f"Bearer {t}")]),
        lambda t, u: ("/", [("Authorization", f"Bearer {t}"), ("Cookie", f"jwt={u}")]),
        lambda t, u: (f"/?jwt={t}&jwt={u}", []),
        lambda t, u: (f"/?jwt={t}&x=1;jwt={u}", []),
    ],
    ids=["header and query", "header and cookie", "query twice", "query ; separated"],
)
def test_two_different_tokens_are_a_bad_request(stack, where):
    target, headers = where(jack(), jack(sub="other"))
    r = get(stack, target, headers)
    assert r.status_code == 400 and "x-consumer-username" not in r.text


def test_metrics_count_consumers(stack):
    upstream_saw(get(stack, "/", [("Authorization", f"Bearer {jack()}")]))
    metrics = httpx.get(stack["auth"] + "/metrics").text
    line = next(
        m for m in metrics.splitlines() if m.startswith('turbojwt_auth_allowed_by_consumer_total{consumer="jack"}')
    )
    assert float(line.split()[-1]) >= 1
    assert re.search(r'turbojwt_auth_denied_total\{reason="unknown_consumer"\} [1-9]', metrics)
