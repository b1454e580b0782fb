"""``turbojwt serve`` reloading its policy, end to end: SIGHUP under continuous load (two
workers, several reloads, no failed request), an invalid policy keeping the old one (logged,
``turbojwt_policy_reload_failures_total``), valid changes taking effect (a new key in the
key file, a revocation setting), and the reload on a file change."""

from __future__ import annotations

import base64
import json
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

import turbojwt
from helpers.serve_process import ServeProcess, wait_until

pytestmark = pytest.mark.e2e

pytest.importorskip("granian")

ISSUER = "https://idp.example"
SECRETS = {"A": "a" * 32, "B": "b" * 32}


def jwks(*kids: str) -> str:
    keys = [
        {"kty": "oct", "kid": kid, "alg": "HS256", "k": base64.urlsafe_b64encode(SECRETS[kid].encode()).decode()}
        for kid in kids
    ]
    return json.dumps({"keys": keys})


def write(folder: Path, kids: tuple[str, ...] = ("A",), extra: str = "") -> Path:
    keys = folder / "keys.json"
    tmp = folder / "keys.json.tmp"
    tmp.write_text(jwks(*kids))
    tmp.replace(keys)  # as an operator's deployment tool would: never half a file
    config = folder / "gateway.toml"
    config.write_text(
        textwrap.dedent(f"""
        [[provider]]
        name = "idp"
        issuer = "{ISSUER}"
        jwks_file = "keys.json"
        algorithms = ["HS256"]
        cache = 1000
        """)
        + textwrap.dedent(extra)
    )
    return config


def token(kid: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "iat": now - 10, "exp": now + 600, "jti": f"jti-{kid}", **claims}
    return turbojwt.encode(body, SECRETS[kid], algorithm="HS256", headers={"kid": kid})


def accepted_in_a_row(s: ServeProcess, tok: str, n: int = 20) -> bool:
    return all(s.check(tok).status_code == 200 for _ in range(n))


class Load:
    """A client sending requests one after the other, on a kept-alive connection and on new
    ones, recording every answer that is not 200."""

    def __init__(self, s: ServeProcess, tok: str) -> None:
        self.s, self.tok = s, tok
        self.sent = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    r = self.s.check(self.tok, client if self.sent % 4 else None)
                    if r.status_code != 200:
                        self.failures.append(f"{r.status_code} {r.text}")
                except httpx.HTTPError as e:
                    self.failures.append(repr(e))
                self.sent += 1

    def start(self) -> None:
        self.thread.start()

    def __enter__(self):  # -> Load
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def test_sighup_under_load_drops_no_request(tmp_path):
    config = write(tmp_path)
    s = ServeProcess(config, tmp_path / "serve.log", "--workers", "2").start()
    try:
        assert accepted_in_a_row(s, token("A"))
        with Load(s, token("A")) as load:
            wait_until(lambda: load.sent > 20, "the load starting")
            for i in range(6):
                write(tmp_path, ("A", "B") if i % 2 else ("A",))
                sent = load.sent
                s.hup()
                wait_until(lambda: load.sent > sent + 20, "requests flowing after a reload", 30)
            # The last reload made key B valid: every worker took it.
            wait_until(lambda: accepted_in_a_row(s, token("B")), "key B accepted by every worker", 30)
        assert load.failures == [], load.failures[:5]
        assert load.sent > 100
        assert (s.metric("turbojwt_policy_reloads_total") or 0) >= 1
        assert s.proc is not None and s.proc.poll() is None
    finally:
        s.stop()
    assert "Traceback" not in s.log(), s.log()


def test_an_invalid_policy_keeps_the_running_one(tmp_path):
    config = write(tmp_path)
    s = ServeProcess(config, tmp_path / "serve.log").start()
    try:
        with Load(s, token("A")) as load:
            config.write_text("this is = = not TOML")
            s.hup()
            wait_until(lambda: s.metric("turbojwt_policy_reload_failures_total") == 1, "the failure counted")
            write(tmp_path, extra='[revocation]\nstore = "etcd"\n')  # valid TOML, bad setting
            s.hup()
            wait_until(lambda: s.metric("turbojwt_policy_reload_failures_total") == 2, "the second failure")
            (tmp_path / "keys.json").unlink()  # a key file gone
            s.hup()
            wait_until(lambda: s.metric("turbojwt_policy_reload_failures_total") == 3, "the third failure")
            # A policy that loads but that this service cannot serve: routes, and no proxy
            # to give the original method and path.
            write(tmp_path, extra='[[route]]\npath = "/x"\nauth = "public"\n\n[default_route]\nauth = "required"\n')
            s.hup()
            wait_until(lambda: s.metric("turbojwt_policy_reload_failures_total") == 4, "the fourth failure")
            wait_until(lambda: load.sent > 20, "requests")
        assert load.failures == []
        assert s.metric("turbojwt_policy_reloads_total") == 0
        log = s.log()
        assert "policy reload failed, the running policy stays" in log
        assert "not valid TOML" in log and "store must be" in log and "needs to know which proxy" in log
    finally:
        s.stop()


def test_a_valid_change_takes_effect(tmp_path):
    config = write(tmp_path)
    s = ServeProcess(config, tmp_path / "serve.log").start()
    try:
        a = token("A")
        assert s.check(a).status_code == 200 and s.check(token("B")).status_code == 401
        # A new key, and a revocation setting: a file store that revokes A's token.
        (tmp_path / "revoked.jsonl").write_text(json.dumps({"jti": "jti-A", "expires": time.time() + 600}) + "\n")
        write(tmp_path, ("A", "B"), '[revocation]\nstore = "file"\npath = "revoked.jsonl"\n')
        s.hup()
        wait_until(lambda: s.metric("turbojwt_policy_reloads_total") == 1, "the reload")
        assert s.check(token("B")).status_code == 200
        r = s.check(a)
        assert r.status_code == 401 and r.json()["error_description"] == "The token has been revoked"
        assert s.metric("turbojwt_revocation_stale") == 0
        # Reloading the same store keeps its replica, still in sync.
        s.hup()
        wait_until(lambda: s.metric("turbojwt_policy_reloads_total") == 2, "the second reload")
        assert s.check(a).status_code == 401 and httpx.get(s.url + "/healthz").text == "ok\n"
    finally:
        s.stop()


def test_reload_on_file_change(tmp_path):
    config = write(tmp_path)
    s = ServeProcess(config, tmp_path / "serve.log", "--reload-on-change", "--watch-interval", "0.2").start()
    try:
        assert s.check(token("A")).status_code == 200
        write(tmp_path, ("B",))  # the key file changes: B replaces A
        wait_until(lambda: s.check(token("B")).status_code == 200, "the change picked up")
        assert s.check(token("A")).status_code == 401
        config.write_text("broken = [")  # an invalid change keeps the running policy
        wait_until(lambda: s.metric("turbojwt_policy_reload_failures_total") == 1, "the failure counted")
        assert s.check(token("B")).status_code == 200
    finally:
        s.stop()
