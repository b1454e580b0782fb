"""The gateway policy's decision (issue 18): what the route match, the role check and the
revocation check add to ``Policy.authorize`` on the verified-token cache hit path, against the
same policy without them, interleaved in one process (``turbojwt.bench.harness.run_rounds``),
HS256 and RS256.

    python benchmarks/gateway_policy.py [--quick]     # prints the Markdown section and targets

`compare.py` includes this section in RESULTS.md (``--no-gateway`` leaves it out).

The policies (``policy_data``): *plain* is examples/gateway.toml's first provider (its ``typ``,
leeway, required claims and token cache; a local key instead of discovery), its realm,
``required_scopes``, ``max_age`` and claim headers, and nothing else: no routes, roles or
revocation entries (the issue's "same policy without them"). *full* is the same plus the
example's ``[[route]]`` tables, default route and ``[roles]`` mapping, two more routes
(``EXTRA_ROUTES``: an exact path and a glob, which the example has none of), and a memory
revocation list holding 10,000 ``jti``s and 1,000 subject rules, none of them for the token's
subject (the common case). *worst* is *full* with one of those rules for the token's own
subject, issued before it (so the subject branch runs to its end). The token is not revoked
and holds the role ``/secure/*`` needs. ``forward_auth.py`` serves the full policy with both
providers (and the worst case's revocation list).
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import jwt as pyjwt

from turbojwt.bench.harness import Row, run_rounds
from turbojwt.bench.material import make_case, make_claims
from turbojwt.gateway.policy import Decision, Policy, PolicyError
from turbojwt.gateway.routes import normalise_path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "gateway.toml"
ISSUER = "https://login.example.com/realms/corp"  # the example's first provider
AUDIENCE = "api"
# The request the decision is timed on: /secure/* needs the role admin.
METHOD, PATH = "GET", "/secure/reports/2026"
ROUTE_PATH = "/secure/*"
# Routes the example lacks, before its own: an exact path and a glob (so a lookup that is
# not in the table of decisions also runs the glob's regular expression).
EXTRA_ROUTES = [
    {"path": "/status", "auth": "public"},
    {"path": "/users/*/orders", "roles_any": ["user"]},
]
# The route lookup rows: one path per kind of route.
LOOKUPS = (
    ("exact", "GET", "/status"),
    ("prefix", "GET", "/secure/reports/2026"),
    ("glob", "GET", "/users/42/orders"),
    ("default", "POST", "/api/v1/things"),
)
REVOKED_JTIS = 10_000
REVOKED_SUBJECTS = 1_000
# One of each, which the refusal checks sign tokens with.
REVOKED_JTI = "revoked-00000000"
REVOKED_SUBJECT = "user-0-logged-out"
LIMIT_US = 1.0

MODES = {
    # target_s: wall time of one batch; rounds: recorded rounds; warmup: unrecorded rounds
    "quick": dict(target_s=0.015, rounds=31, warmup=2),
    "full": dict(target_s=0.040, rounds=81, warmup=4),
}


def token_claims(now: int | None = None) -> dict[str, Any]:
    """The toolkit's 12 claims for the example's first provider: its issuer and audience,
    Keycloak's ``realm_access.roles`` (``api-admin``: the policy roles admin and user) in
    place of ``roles``, the policy's scope, issued a minute ago, valid 50 minutes (within
    the example's one-hour ``max_age``)."""
    now = int(time.time()) if now is None else now
    claims = make_claims(now)
    del claims["roles"]
    claims.update(
        iss=ISSUER,
        aud=AUDIENCE,
        iat=now - 60,
        nbf=now - 60,
        exp=now + 3000,
        realm_access={"roles": ["api-admin", "offline_access"]},
        scope="api:read reports:read openid",
    )
    return claims


def sign(claims: Mapping[str, Any], key: Any, alg: str) -> str:
    """An RFC 9068 access token (``typ: at+jwt``, as the example's provider requires), signed by PyJWT."""
    return pyjwt.encode(dict(claims), key, algorithm=alg, headers={"typ": "at+jwt"})


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def local_provider(table: Mapping[str, Any], key_file: str, algorithms: list[str]) -> dict[str, Any]:
    """An example provider table with a local key instead of discovery or a JWKS URL."""
    out = {k: v for k, v in table.items() if k not in ("discovery", "jwks_url", "jwks")}
    return {**out, "key_file": key_file, "algorithms": algorithms}


def policy_data(
    full: bool, key_file: str, alg: str, providers: int = 1, extra_keys: Mapping[str, str] | None = None
) -> dict:
    """The *plain* or *full* policy (see the module docstring) as ``Policy.from_dict`` takes
    it. ``providers=2`` keeps the example's second provider too (``extra_keys``: its name ->
    key file), as the forward-auth benchmark serves it."""
    data = example()
    tables = data["provider"][:providers]
    data["provider"] = [local_provider(tables[0], key_file, [alg])] + [
        local_provider(t, (extra_keys or {})[t["name"]], t["algorithms"]) for t in tables[1:]
    ]
    if full:
        data["route"] = EXTRA_ROUTES + data["route"]
        data["revocation"] = {"store": "memory"}
        return data
    for key in ("route", "default_route", "roles", "forward_auth", "revocation"):
        data.pop(key, None)
    return data


def fill_revocations(policy: Policy, sub: str, iat: float, own_rule: bool = True) -> None:
    """``REVOKED_JTIS`` jtis and ``REVOKED_SUBJECTS`` subject rules; with ``own_rule``, one
    of them for ``sub``'s tokens issued before ``iat`` (a logout everywhere before the token
    was issued), which does not revoke it but is read to its end."""
    exp = time.time() + 3600
    revocations = policy.revocations
    for i in range(REVOKED_JTIS):
        revocations.revoke(REVOKED_JTI if i == 0 else f"revoked-{i:08x}", exp)
    others = REVOKED_SUBJECTS - 1 if own_rule else REVOKED_SUBJECTS
    for i in range(others):
        revocations.revoke_subject(REVOKED_SUBJECT if i == 0 else f"user-{i}-logged-out", before=iat + 600, exp=exp)
    if own_rule:
        revocations.revoke_subject(sub, before=iat - 600, exp=exp)


def decision_problems(policy: Policy, token: str, claims: Mapping[str, Any], route_path: str | None) -> list[str]:
    """Why ``policy`` cannot be timed on ``token`` (empty when it can): it must admit it on
    ``route_path`` (None: a policy without routes) with exactly its claims, from its
    verified-token cache (hits counted by the provider's cache)."""
    try:
        # (the cache admits a token on its second verification)
        policy.authorize(METHOD, PATH, token)
        decision = policy.authorize(METHOD, PATH, token)
    except Exception as e:
        return [f"refused the token: {type(e).__name__}: {e}"]
    problems = []
    if not isinstance(decision, Decision) or decision.verified is None:
        return [f"admitted {METHOD} {PATH} without verifying the token"]
    if decision.verified.claims != dict(claims):
        problems.append("returned other claims")
    if (decision.route.path if policy.has_routes else None) != route_path:
        problems.append(f"took the route {decision.route.describe()}, not {route_path}")
    verifier = policy.providers[0].verifier
    before = verifier.cache_info()
    policy.authorize(METHOD, PATH, token)
    after = verifier.cache_info()
    if before is None or after is None or after.hits != before.hits + 1 or after.misses != before.misses:
        problems.append("the decision is not served from the verified-token cache")
    return problems


def refusal_problems(policy: Policy, key: Any, alg: str, claims: Mapping[str, Any]) -> list[str]:
    """The *full* policy's checks must be on: it refuses a revoked jti, a token of a revoked
    subject issued before the rule, a token without the role its route needs and one older
    than ``max_age`` (each a different token, so the timed one stays admitted)."""
    now = int(time.time())
    cases = {
        "a revoked jti": dict(claims, jti=REVOKED_JTI),
        "a revoked subject": dict(claims, sub=REVOKED_SUBJECT),
        "a token without the role admin": dict(claims, realm_access={"roles": ["api-user"]}),
        "a token older than max_age": dict(claims, iat=now - 7200, nbf=now - 7200, exp=now + 60),
    }
    problems = []
    for what, bad in cases.items():
        try:
            policy.authorize(METHOD, PATH, sign(bad, key, alg))
        except Exception:
            continue
        problems.append(f"ADMITTED {what}")
    return problems


class PolicyCase:
    """One algorithm's token and its three policies, checked (``problems``) before timing."""

    def __init__(self, alg: str, tmp: Path) -> None:
        self.alg = alg
        case = make_case(alg)  # fresh keys (the toolkit's)
        self.claims = token_claims()
        signing: Any = case.secret if case.secret is not None else case.private_key
        self.signing_key = signing
        self.token = sign(self.claims, signing, alg)
        key_file = tmp / f"{alg}.key"
        key_file.write_text(case.secret if case.secret is not None else str(case.public_pem), encoding="utf-8")
        self.plain = Policy.from_dict(policy_data(False, key_file.name, alg), base=tmp)
        self.full = Policy.from_dict(policy_data(True, key_file.name, alg), base=tmp)
        fill_revocations(self.full, self.claims["sub"], self.claims["iat"], own_rule=False)
        self.worst = Policy.from_dict(policy_data(True, key_file.name, alg), base=tmp)
        fill_revocations(self.worst, self.claims["sub"], self.claims["iat"], own_rule=True)
        self.problems = [f"plain policy {p}" for p in decision_problems(self.plain, self.token, self.claims, None)]
        for name, policy in (("full", self.full), ("worst-case", self.worst)):
            self.problems += [
                f"{name} policy {p}" for p in decision_problems(policy, self.token, self.claims, ROUTE_PATH)
            ]
            self.problems += [f"{name} policy {p}" for p in refusal_problems(policy, signing, alg, self.claims)]

    def rows(self) -> list[Row]:
        """The timed calls: the plain policy's verify and authorize, the full and worst-case
        policies' authorize."""
        g = f"{self.alg} decision"
        return [
            Row(
                g, "plain-verify", "plain: `Policy.verify(token)`", "", functools.partial(self.plain.verify, self.token)
            ),
            Row(
                g,
                "plain",
                "plain: `Policy.authorize(method, path, token)`",
                "",
                functools.partial(self.plain.authorize, METHOD, PATH, self.token),
            ),
            Row(
                g,
                "full",
                "full: `Policy.authorize(method, path, token)`",
                "",
                functools.partial(self.full.authorize, METHOD, PATH, self.token),
            ),
            Row(
                g,
                "worst",
                "worst case: `Policy.authorize(method, path, token)`",
                "",
                functools.partial(self.worst.authorize, METHOD, PATH, self.token),
            ),
        ]


def lookup_rows(policy: Policy) -> list[Row]:
    """The route lookup alone: ``RouteTable.lookup`` as a request calls it (a path seen
    before: its kept decision), and a path seen for the first time (normal form, then the
    match)."""
    table = policy.route_table
    assert table is not None
    rows = []
    for kind, method, path in LOOKUPS:
        table.lookup(method, path)

        def first_sight(method: str = method, path: str = path) -> Any:
            return table.match(method, normalise_path(path).path)

        rows.append(Row("lookup", f"{kind}-kept", kind, path, functools.partial(table.lookup, method, path)))
        rows.append(Row("lookup", f"{kind}-first", kind, path, first_sight))
    return rows


def spread(xs: list[float]) -> str:
    s = sorted(xs)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))]

    return f"{statistics.median(s):+.3f} ({q(0.1):+.3f}..{q(0.9):+.3f})"


def fmt(row: Row) -> str:
    return f"{row.median:.3f} ({row.quantile(0.1):.3f}..{row.quantile(0.9):.3f})"


def diffs(a: Row, b: Row) -> list[float]:
    """Per-round b - a (both timed in the same round)."""
    return [y - x for x, y in zip(a.samples, b.samples)]


def section(
    quick: bool, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)
) -> tuple[list[str], list[tuple[str, str, str, bool]]]:
    """Markdown lines for RESULTS.md and the issue 18 target rows (name, measured, limit, ok)."""
    cfg = MODES["quick" if quick else "full"]
    title = "## Gateway policy decision (issue 18)"
    with tempfile.TemporaryDirectory() as tmp:
        cases = [PolicyCase(alg, Path(tmp)) for alg in ("HS256", "RS256")]
    problems = [f"{c.alg}: {p}" for c in cases for p in c.problems]
    if problems:
        log("gateway policy: not timed: " + "; ".join(problems))
        lines = [title, "", "**Not timed**: a policy failed its correctness check:", ""]
        lines += [f"- {p}" for p in problems] + [""]
        return lines, [("policy decision overhead", "not measured (correctness check failed)", "≤ 1 µs", False)]
    rows = [r for c in cases for r in c.rows()] + lookup_rows(cases[0].full)
    log(f"gateway policy: {len(rows)} rows, {cfg['warmup']} warm-up + {cfg['rounds']} rounds ...")
    run_rounds(rows, cfg["rounds"], cfg["warmup"], cfg["target_s"], seed=18, log=log)
    by = {(r.group, r.lib): r for r in rows}
    lines = [
        title,
        "",
        "`Policy.authorize` on the verified-token cache hit path, 12-claim `at+jwt` token, "
        f"`{METHOD} {PATH}`. *plain*: examples/gateway.toml's first provider (local key, cache on), "
        "`required_scopes`, `max_age` and claim headers, nothing else (the issue's \"same policy without "
        "them\"); *full*: the same plus the example's routes (and an exact and a glob route before them), "
        "default route and roles mapping, and a memory revocation list of "
        f"{REVOKED_JTIS:,} jtis and {REVOKED_SUBJECTS:,} subject rules, none for the token's subject (the "
        "common case); *worst case*: the same list with one of its rules for the token's subject, issued "
        "before it (the subject check runs to its end). The route needs the role admin, which the token "
        f"holds. One process, {cfg['rounds']} interleaved rounds; µs per call, median (p10..p90), "
        "loop overhead included. *Added* = per-round difference to plain `authorize`, median (p10..p90); "
        "the target rows are the *full* one and, so that nothing is hidden, the *worst case*.",
        "",
        "| alg | plain `verify` | plain `authorize` | full `authorize` | worst case `authorize` "
        "| added: full | added: worst case |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    targets = []
    for c in cases:
        g = f"{c.alg} decision"
        verify, plain = by[(g, "plain-verify")], by[(g, "plain")]
        full, worst = by[(g, "full")], by[(g, "worst")]
        added, added_worst = diffs(plain, full), diffs(plain, worst)
        lines.append(
            f"| {c.alg} | {fmt(verify)} | {fmt(plain)} | {fmt(full)} | {fmt(worst)} "
            f"| {spread(added)} | {spread(added_worst)} |"
        )
        for what, row, extra in (
            ("", full, added),
            (", worst case (a subject rule for the token's subject)", worst, added_worst),
        ):
            median = statistics.median(extra)
            targets.append(
                (
                    f"{c.alg} route match + roles + revocation, added to `Policy.authorize` (cache hit){what}",
                    f"{median:+.3f} µs ({row.median:.3f} vs {plain.median:.3f} µs)",
                    "≤ 1 µs",
                    median <= LIMIT_US,
                )
            )
    lines += [
        "",
        "The route lookup alone, on the *full* policy's table: *kept* = `RouteTable.lookup` for a "
        "(method, path) seen before (what a repeated request costs: its kept decision); *first sight* = "
        "the path's normal form and the match, for a path not seen before. µs per call, median (p10..p90).",
        "",
        "| route | request | kept | first sight |",
        "| --- | --- | --- | --- |",
    ]
    for kind, method, path in LOOKUPS:
        kept, first = by[("lookup", f"{kind}-kept")], by[("lookup", f"{kind}-first")]
        lines.append(f"| {kind} | `{method} {path}` | {fmt(kept)} | {fmt(first)} |")
    lines.append("")
    return lines, targets


def main() -> None:
    from sections import section_main  # benchmarks/sections.py, beside this file

    section_main(section, __doc__)


if __name__ == "__main__":
    try:
        main()
    except PolicyError as e:  # the example no longer loads: say so rather than a traceback
        sys.exit(f"gateway_policy.py: {e}")
