"""The forward-auth service (issue 6) on uvicorn and on granian, measured with wrk: the same
ASGI app (`turbojwt.gateway.serve.ForwardAuthApp`), the same RS256 policy, one worker each,
interleaved rounds. This is how `turbojwt serve` chose its server.

In the same runs (issue 18): today's policy against the full example policy of
``gateway_policy.py`` (routes, roles, ``max_age``, a revocation list, both providers, three
claim headers), the same 12-claim token and nginx ``auth_request`` headers for both; not
reported unless the full policy admits that token and refuses the ones it must, and wrk sees
only 2xx answers.

    python benchmarks/forward_auth.py [--quick]     # needs wrk (apt-get install wrk), granian, uvicorn

`compare.py` includes this section in RESULTS.md when wrk and granian are present.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import turbojwt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_policy  # benchmarks/gateway_policy.py: the policies and token of issue 18

ISSUER = gateway_policy.ISSUER  # (the example's provider: the issue-18 rows serve its tokens too)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


def wrk(
    url: str, token: str, seconds: int, connections: int, headers: dict[str, str] | None = None
) -> tuple[float, float]:
    """(requests/s, mean latency ms); RuntimeError when any answer was not 2xx."""
    extra = [a for name, value in (headers or {}).items() for a in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    latency = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw refusals or errors:\n{out}")
    return rate, latency


def start_server(server: str, module: str, tmp: str) -> tuple[subprocess.Popen, int]:
    """``module:app`` on ``server`` (uvicorn or granian), one worker, on a free loopback port."""
    port = free_port()
    args = {
        "uvicorn": ["uvicorn", "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"],
        "granian": [
            "granian",
            "--interface",
            "asgi",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
    }[server]
    # The servers run the turbojwt this harness imports (a relative PYTHONPATH would be read
    # from the servers' folder, and the installed package served instead).
    package_root = str(Path(turbojwt.__file__).resolve().parent.parent)
    path = [tmp, package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    with open(Path(tmp) / f"{server}-{module}.log", "wb") as log:  # (the child keeps its own copy)
        proc = subprocess.Popen(
            [sys.executable, "-m", *args, f"{module}:app"], stdout=log, stderr=log, env=env, cwd=tmp
        )
    return proc, port


def today_config(cache: int) -> str:
    """Today's policy (the issue-6 rows): one RS256 provider, no routes, one claim header."""
    return textwrap.dedent(f"""
        [[provider]]
        issuer = "{ISSUER}"
        key_file = "key.pem"
        audiences = ["api"]
        algorithms = ["RS256"]
        cache = {cache}
        [claim_to_headers]
        "X-Auth-Subject" = "sub"
    """)


FULL_APP = """
import sys
from pathlib import Path

sys.path.insert(0, {bench!r})
import gateway_policy

from turbojwt.gateway.policy import Policy
from turbojwt.gateway.serve import ForwardAuthApp

data = gateway_policy.policy_data(True, "key.pem", "RS256", providers=2, extra_keys={{"partner": "partner.pem"}})
policy = Policy.from_dict(data, base=Path(__file__).parent)
gateway_policy.fill_revocations(policy, {sub!r}, {iat!r}, own_rule=True)
app = ForwardAuthApp(policy)
"""


def gate(port: int, token: str, headers: dict[str, str], subject: str) -> str | None:
    """None when the server admits ``token`` (200, ``X-Auth-Subject`` its subject); else what it answered."""
    r = httpx.get(f"http://127.0.0.1:{port}/check", headers={"Authorization": f"Bearer {token}", **headers})
    if r.status_code != 200 or r.headers.get("x-auth-subject") != subject:
        return f"{r.status_code} {r.headers.get('www-authenticate', '')}".strip()
    return None


def refusals(port: int, tokens: dict[str, str], headers: dict[str, str]) -> list[str]:
    """What the full policy admitted of the tokens it must refuse (its routes, roles,
    max_age and revocation list are on)."""
    out = []
    for what, token in tokens.items():
        r = httpx.get(f"http://127.0.0.1:{port}/check", headers={"Authorization": f"Bearer {token}", **headers})
        if r.status_code not in (401, 403):
            out.append(f"answered {r.status_code} to {what}")
    return out


Target = tuple[str, str, str, bool]


def section(quick: bool, log=lambda s: print(s, file=sys.stderr)) -> tuple[list[str], list[Target]]:
    """Markdown lines for RESULTS.md and the issue 18 target row (name, measured, limit, ok)."""
    title6 = "## Forward-auth service (issue 6)"
    target_name = "forward-auth requests/s, full example policy vs today's (granian)"
    if not shutil.which("wrk"):
        return [title6, "", "_Skipped: wrk is not installed._", ""], []
    try:
        import granian  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        return [title6, "", f"_Skipped: {e.name} is not installed._", ""], []
    rounds, seconds = (2, 2) if quick else (5, 4)
    key = rsa.generate_private_key(65537, 2048)
    partner = ed25519.Ed25519PrivateKey.generate()
    token = turbojwt.encode(
        {"iss": ISSUER, "aud": "api", "sub": "alice", "exp": int(time.time()) + 3600}, key, algorithm="RS256"
    )
    # Issue 18: the 12-claim access token of gateway_policy.py, for GET /secure/... (admins),
    # with the headers nginx's auth_request sends (examples/nginx.conf).
    claims = gateway_policy.token_claims()
    access = gateway_policy.sign(claims, key, "RS256")
    nginx = {"X-Original-Method": gateway_policy.METHOD, "X-Original-URI": gateway_policy.PATH + "?page=2"}
    now = int(time.time())
    must_refuse = {
        "a token without the role admin": dict(claims, realm_access={"roles": ["api-user"]}),
        "a revoked jti": dict(claims, jti=gateway_policy.REVOKED_JTI),
        "a token older than max_age": dict(claims, iat=now - 7200, nbf=now - 7200, exp=now + 60),
    }
    refused_tokens = {what: gateway_policy.sign(c, key, "RS256") for what, c in must_refuse.items()}
    rows: list[str] = []
    rows18: list[str] = []
    targets: list[Target] = []
    problem = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        pem = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        (tmp_path / "key.pem").write_bytes(key.public_key().public_bytes(*pem))
        (tmp_path / "partner.pem").write_bytes(partner.public_key().public_bytes(*pem))
        for cache in (0, 10000):
            (tmp_path / f"gateway-{cache}.toml").write_text(today_config(cache))
            (tmp_path / f"app{cache}.py").write_text(
                textwrap.dedent(f"""
                from turbojwt.gateway.policy import Policy
                from turbojwt.gateway.serve import ForwardAuthApp
                app = ForwardAuthApp(Policy.from_toml({str(tmp_path / f"gateway-{cache}.toml")!r}))
            """)
            )
        (tmp_path / "app_full.py").write_text(
            FULL_APP.format(bench=str(Path(__file__).resolve().parent), sub=claims["sub"], iat=claims["iat"])
        )
        for cache in (0, 10000):
            # (name, server, module, token, headers): the issue-6 rows, and with the cache on
            # the issue-18 pair on each server, today's policy and the full one, same requests.
            runs = [(s, s, f"app{cache}", token, {}) for s in ("uvicorn", "granian")]
            if cache:
                runs += [
                    (f"{s} {which}", s, module, access, nginx)
                    for s in ("granian", "uvicorn")
                    for which, module in (("today", f"app{cache}"), ("full", "app_full"))
                ]
            servers = {key: start_server(*key, tmp) for key in dict.fromkeys((s, m) for _, s, m, _, _ in runs)}
            try:
                for (s, m), (proc, port) in servers.items():
                    try:
                        wait_up(f"http://127.0.0.1:{port}/healthz")
                    except TimeoutError:
                        tail = (tmp_path / f"{s}-{m}.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"{s} serving {m} did not start (exit {proc.poll()}):\n{tail}") from None
                for name, s, m, tok, headers in runs:
                    if tok is access:
                        why = gate(servers[(s, m)][1], tok, headers, claims["sub"])
                        if why:
                            problem = f"{name} refused the admitted token: {why}"
                        elif m == "app_full":
                            wrong = refusals(servers[(s, m)][1], refused_tokens, headers)
                            if wrong:
                                problem = f"{name} " + "; ".join(wrong)
                results: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in runs}
                rng = random.Random(18)
                # Each server's today/full pair runs back to back (in alternating order), so
                # that a per-round ratio compares runs seconds apart; the units are shuffled.
                units: list[list[tuple[str, str, str, str, dict[str, str]]]] = []
                for run in runs:
                    pair = next((u for u in units if u[0][1] == run[1] and u[0][3] is access), None)
                    if run[3] is access and pair is not None:
                        pair.append(run)
                    else:
                        units.append([run])
                for r in range(rounds):
                    rng.shuffle(units)
                    order = [run for unit in units for run in (unit if r % 2 == 0 else reversed(unit))]
                    for name, s, m, tok, headers in order:
                        if problem and tok is access:
                            continue
                        try:
                            results[name].append(
                                wrk(f"http://127.0.0.1:{servers[(s, m)][1]}/check", tok, seconds, 32, headers)
                            )
                        except RuntimeError as e:
                            if tok is not access:
                                raise
                            problem = f"{name}: {e}"
                    log(f"  forward auth cache={cache} round {r + 1}/{rounds}")
            finally:
                for proc, _ in servers.values():
                    proc.terminate()
                    proc.wait(10)
            for name, _, _, tok, _ in runs:
                values = results[name]
                if tok is not token:
                    continue
                rates = [v[0] for v in values]
                lat = [v[1] for v in values]
                rows.append(
                    f"| {name} | {'on' if cache else 'off'} | {statistics.median(rates):,.0f} "
                    f"({min(rates):,.0f}..{max(rates):,.0f}) | {statistics.median(lat):.2f} |"
                )
            if cache and not problem:
                for s in ("granian", "uvicorn"):
                    today, full = results[f"{s} today"], results[f"{s} full"]
                    ratios = [f[0] / t[0] for t, f in zip(today, full)]
                    ratio = statistics.median(ratios)
                    for which, values in (("today's policy", today), ("full example policy", full)):
                        rates = [v[0] for v in values]
                        rows18.append(
                            f"| {s} | {which} | {statistics.median(rates):,.0f} ({min(rates):,.0f}..{max(rates):,.0f}) "
                            f"| {statistics.median([v[1] for v in values]):.2f} | "
                            + (f"{ratio:.1%} ({min(ratios):.1%}..{max(ratios):.1%})" if "full" in which else "")
                            + " |"
                        )
                    if s == "granian":
                        t_med = statistics.median(v[0] for v in today)
                        f_med = statistics.median(v[0] for v in full)
                        targets.append(
                            (
                                target_name,
                                f"{ratio:.1%} ({f_med:,.0f} vs {t_med:,.0f} requests/s)",
                                "≥ 90%",
                                ratio >= 0.9,
                            )
                        )
    lines = [
        title6,
        "",
        f"`turbojwt serve`'s app on each server, one worker, RS256 token, wrk -t1 -c32, {rounds} interleaved "
        f"rounds of {seconds} s (server and wrk share the 2 cores). Median requests/s (min..max) and mean latency.",
        "",
        "| server | token cache | requests/s | latency ms |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "### With the gateway policy (issue 18)",
        "",
    ]
    if problem:
        log(f"forward auth (issue 18): not reported: {problem}")
        lines += [f"**Not reported**: {problem}.", ""]
        return lines, [(target_name, "not measured (a correctness check failed)", "≥ 90%", False)]
    lines += [
        "In the same runs (rounds interleaved with the rows above, cache on; on each server the two "
        "policies' runs back to back, in alternating order): *today's policy* is the "
        "rows' policy above; *full example policy* is examples/gateway.toml (both providers with local "
        "keys, routes plus an exact and a glob route, roles mapping, `max_age`, three claim headers) with a "
        f"memory revocation list of {gateway_policy.REVOKED_JTIS:,} jtis and "
        f"{gateway_policy.REVOKED_SUBJECTS:,} subject rules (one for the token's subject, issued before it). "
        "Both get the same requests: the 12-claim "
        f"`at+jwt` token of the decision benchmark, with `X-Original-Method: {nginx['X-Original-Method']}` "
        f"and `X-Original-URI: {nginx['X-Original-URI']}` as nginx's `auth_request` sends them (a route for "
        "admins, which the token is). Every request was answered 200 (wrk saw no other status), and before "
        "the runs the full policy refused a token without the role, a revoked jti and a token past "
        "`max_age`. *Full / today* is the median of per-round ratios (min..max).",
        "",
        "| server | policy | requests/s | latency ms | full / today |",
        "| --- | --- | --- | --- | --- |",
        *rows18,
        "",
    ]
    return lines, targets


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    main()
