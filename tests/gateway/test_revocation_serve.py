"""End to end: two ``turbojwt serve`` processes sharing one real Redis revocation store, and
``turbojwt revoke`` writing to it. A revocation by jti and by subject reaches both; with
Redis stopped both answer from their replicas and say ``stale`` in /healthz and /metrics;
past ``stale_after`` the one failing closed answers 503 and the one failing open admits;
Redis restarted, both resync and the staleness clears. The revocations also through a real
nginx (``auth_request``) balancing its checks over both. And the file store through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

import turbojwt
from helpers.debian import debian_command
from helpers.redis_server import RedisServer, free_port, redis_binary
from helpers.serve_process import IMPORTED_FROM, ServeProcess, wait_until
from helpers.upstream import Upstream

pytestmark = pytest.mark.e2e

pytest.importorskip("granian")
pytest.importorskip("redis")
REDIS = redis_binary()
if REDIS is None:
    if os.environ.get("CI"):
        raise RuntimeError("redis-server is missing and could not be installed with apt-get")
    pytest.skip("redis-server is not installed and cannot be installed here", allow_module_level=True)

ISSUER = "https://idp.example"
SECRET = "e2e-secret-" + "x" * 32
STALE_AFTER = 3


def write_config(folder: Path, name: str, revocation: str) -> Path:
    (folder / "secret.txt").write_text(SECRET)
    path = folder / name
    path.write_text(
        textwrap.dedent(f"""
        [[provider]]
        name = "idp"
        issuer = "{ISSUER}"
        key_file = "secret.txt"
        algorithms = ["HS256"]
        cache = 1000

        [claim_to_headers]
        "X-Auth-Subject" = "sub"

        [revocation]
        """)
        + textwrap.dedent(revocation)
    )
    return path


def token(**claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "iat": now - 10, "exp": now + 600, "jti": "j", **claims}
    return turbojwt.encode(body, SECRET, algorithm="HS256")


def revoke(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": IMPORTED_FROM}
    return subprocess.run(
        [sys.executable, "-m", "turbojwt", "revoke", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def is_revoked(r: httpx.Response) -> bool:
    return r.status_code == 401 and r.json().get("error_description") == "The token has been revoked"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    redis = RedisServer(REDIS, tmp).start()
    common = f'store = "redis"\nurl = "{redis.url}"\nstale_after = {STALE_AFTER}\ntimeout = 0.5\n'
    closed = write_config(tmp, "closed.toml", common + 'on_stale = "closed"\n')
    opened = write_config(tmp, "open.toml", common + 'on_stale = "open"\n')
    a = ServeProcess(closed, tmp / "a.log")
    b = ServeProcess(opened, tmp / "b.log")
    try:
        a.start()
        b.start()
        for s in (a, b):
            wait_until(lambda: httpx.get(s.url + "/healthz").text == "ok\n", "a synced replica")
        yield {"redis": redis, "a": a, "b": b, "config": closed}
    finally:
        for s in (a, b):
            s.stop()
            print(f"--- turbojwt serve ({s.config.name}) ---\n{s.log()}")
        redis.stop()


def test_revocation_by_jti_reaches_both_processes(fleet):
    a, b = fleet["a"], fleet["b"]
    stolen, fine = token(jti="stolen"), token(jti="fine")
    for s in (a, b):
        for _ in range(3):  # into each verified-token cache
            assert s.check(stolen).status_code == 200
    done = revoke(fleet["config"], "--jti", "stolen", "--exp", str(int(time.time()) + 600))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["jti"] == "stolen"
    for s in (a, b):
        wait_until(lambda: is_revoked(s.check(stolen)), "the jti revocation reaching a gateway")
        assert s.check(fine).status_code == 200
    r = a.check(stolen)
    assert r.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_revocation_by_subject_reaches_both_processes(fleet):
    a, b = fleet["a"], fleet["b"]
    before = token(sub="carol", jti="c1")
    for s in (a, b):
        assert s.check(before).status_code == 200
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    done = revoke(fleet["config"], "--sub", "carol", "--before", at)
    assert done.returncode == 0, done.stderr
    after = token(sub="carol", jti="c2", iat=int(time.time()))
    for s in (a, b):
        wait_until(lambda: is_revoked(s.check(before)), "the subject rule reaching a gateway")
        assert s.check(after).status_code == 200  # issued after the logout
        assert s.check(token(sub="dave", jti="d1")).status_code == 200
    assert a.metric("turbojwt_revocation_entries") is not None


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream auth {{ server 127.0.0.1:{a}; server 127.0.0.1:{b}; }}
    server {{
        listen 127.0.0.1:{port};
        location = /_auth {{
            internal;
            proxy_pass http://auth/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location / {{
            auth_request /_auth;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
"""


def test_revocations_through_nginx_balancing_both_processes(fleet, tmp_path):
    nginx = debian_command("nginx", "nginx-light", ("/usr/sbin/nginx", "/usr/local/sbin/nginx"))
    if nginx is None:
        if os.environ.get("CI"):
            raise RuntimeError("nginx is missing and could not be installed with apt-get")
        pytest.skip("nginx is not installed and cannot be installed here")
    # The protected service answers with the subject nginx passed on.
    upstream = Upstream(lambda request: (request.headers.get("X-Auth-Subject") or "").encode(), None)
    port = free_port()
    (tmp_path / "nginx.conf").write_text(
        NGINX_CONF.format(tmp=tmp_path, port=port, a=fleet["a"].port, b=fleet["b"].port, upstream=upstream.port)
    )
    proc = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/orders"

    def answers(tok: str, n: int = 10) -> list[tuple[int, str]]:
        out = []
        for _ in range(n):  # round robin: both gateways answer
            r = httpx.get(url, headers={"Authorization": f"Bearer {tok}"})
            out.append((r.status_code, r.text if r.status_code == 200 else r.headers.get("www-authenticate", "")))
        return out

    try:
        wait_until(lambda: httpx.get(url).status_code == 401, "nginx")
        stolen, other = token(jti="via-nginx"), token(sub="erin", jti="e1")
        assert answers(stolen) == [(200, "alice")] * 10
        assert answers(other) == [(200, "erin")] * 10
        assert revoke(fleet["config"], "--jti", "via-nginx").returncode == 0
        assert revoke(fleet["config"], "--sub", "erin", "--before", str(time.time() - 5)).returncode == 0
        refused = 'error="invalid_token", error_description="The token has been revoked"'
        wait_until(lambda: all(s == 401 and refused in w for s, w in answers(stolen)), "nginx refusing the jti")
        wait_until(lambda: all(s == 401 and refused in w for s, w in answers(other)), "nginx refusing the subject")
        assert answers(token(jti="still-fine")) == [(200, "alice")] * 10
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        upstream.stop()


def test_redis_stopped_then_restarted(fleet):
    redis, a, b = fleet["redis"], fleet["a"], fleet["b"]
    revoked, fine = token(jti="down-1"), token(jti="down-2")
    assert revoke(fleet["config"], "--jti", "down-1").returncode == 0
    for s in (a, b):
        wait_until(lambda: is_revoked(s.check(revoked)), "the revocation")

    redis.stop()
    try:
        for s in (a, b):
            wait_until(lambda: s.metric("turbojwt_revocation_stale") == 1, "/metrics saying stale")
            health = httpx.get(s.url + "/healthz")
            # Until stale_after has passed it is stale and still serving (a slow machine may
            # already be past it: then the closed one says unavailable, with 503).
            assert health.text.startswith(("stale: revocation list", "unavailable:")), health.text
        # Served from the replicas: the revoked token stays refused.
        for s in (a, b):
            assert is_revoked(s.check(revoked))
        # The CLI cannot reach the store, and says so.
        failed = revoke(fleet["config"], "--jti", "down-3")
        assert failed.returncode == 1 and "nothing was written" in failed.stderr

        # Past stale_after: the closed gateway refuses with 503, the open one admits.
        wait_until(lambda: a.check(fine).status_code == 503, "failing closed", STALE_AFTER + 30)
        r = a.check(fine)
        assert r.json() == {
            "error": "temporarily_unavailable",
            "error_description": "The revocation list is unavailable",
        }
        assert httpx.get(a.url + "/healthz").status_code == 503
        assert a.metric("turbojwt_revocation_unavailable") == 1
        assert b.check(fine).status_code == 200
        assert httpx.get(b.url + "/healthz").text.startswith("stale:")
        assert is_revoked(a.check(revoked)) and is_revoked(b.check(revoked))
        assert (a.metric("turbojwt_revocation_sync_failures_total") or 0) >= 1
    finally:
        redis.start()  # same port, same append-only file

    for s in (a, b):
        wait_until(lambda: httpx.get(s.url + "/healthz").text == "ok\n", "the replica resyncing", 30)
        assert s.metric("turbojwt_revocation_stale") == 0
        assert s.check(fine).status_code == 200
        assert is_revoked(s.check(revoked))  # persisted across the restart
    assert revoke(fleet["config"], "--jti", "down-2").returncode == 0
    for s in (a, b):
        wait_until(lambda: is_revoked(s.check(fine)), "a revocation after the restart")


def test_file_store_through_the_cli(tmp_path):
    config = write_config(tmp_path, "gateway.toml", 'store = "file"\npath = "revoked.jsonl"\n')
    s = ServeProcess(config, tmp_path / "serve.log").start()
    try:
        tok = token(jti="f-1")
        assert s.check(tok).status_code == 200
        done = revoke(
            config, "--jti", "f-1", "--exp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
        )
        assert done.returncode == 0, done.stderr
        wait_until(lambda: is_revoked(s.check(tok)), "the file revocation reaching the gateway")
        assert json.loads((tmp_path / "revoked.jsonl").read_text())["jti"] == "f-1"
    finally:
        s.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jti", "x", "--exp", "soon"], "time"),
        (["--jti", "x", "--before", "0"], "--before goes with --sub"),
    ],
)
def test_cli_refuses_bad_arguments(tmp_path, args, message):
    config = write_config(tmp_path, "gateway.toml", 'store = "file"\npath = "revoked.jsonl"\n')
    done = revoke(config, *args)
    assert done.returncode == 2 and message in done.stderr


def test_cli_refuses_the_memory_store(tmp_path):
    done = revoke(write_config(tmp_path, "gateway.toml", ""), "--jti", "x")
    assert done.returncode == 2 and '"memory"' in done.stderr
