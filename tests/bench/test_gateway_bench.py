"""The correctness checks of benchmarks/gateway_policy.py (issue 18's decision benchmark),
without timing anything: a policy that refuses the timed token, one that does not serve it
from the verified-token cache, or one whose routes, roles, max_age or revocation list are
not on is refused, and the section then reports a MISS instead of timing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from turbojwt.gateway.policy import Policy
from turbojwt.gateway.revocation import TokenRevokedError

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def gp():
    spec = importlib.util.spec_from_file_location("gateway_policy", BENCHMARKS / "gateway_policy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gateway_policy"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gateway_policy", None)


@pytest.fixture(scope="module")
def case(gp, tmp_path_factory):
    return gp.PolicyCase("HS256", tmp_path_factory.mktemp("gateway-bench"))


def test_the_timed_policies_pass_their_checks(gp, case):
    assert case.problems == []
    for policy in (case.full, case.worst):
        assert policy.revocations.counts() == {"jti": gp.REVOKED_JTIS, "sub": gp.REVOKED_SUBJECTS}
    assert case.plain.max_age == case.full.max_age == 3600  # the baseline has max_age too
    assert not case.plain.has_routes and case.plain.revocations.counts() == {"jti": 0, "sub": 0}


def test_only_the_worst_case_has_a_rule_for_the_token_subject(gp, case):
    # A token of the subject issued before the worst case's rule for it (and after every
    # other rule's time): the worst case refuses it, the full policy has no rule for it.
    now = int(case.claims["iat"])
    earlier = dict(case.claims, iat=now - 1200, nbf=now - 1200, exp=now + 1200)
    token = gp.sign(earlier, case.signing_key, "HS256")
    assert case.full.authorize(gp.METHOD, gp.PATH, token).verified is not None
    with pytest.raises(TokenRevokedError):
        case.worst.authorize(gp.METHOD, gp.PATH, token)


def test_a_policy_that_refuses_the_token_is_not_timed(gp, case):
    revoked = gp.sign(dict(case.claims, jti=gp.REVOKED_JTI), case.signing_key, "HS256")
    problems = gp.decision_problems(case.full, revoked, case.claims, gp.ROUTE_PATH)
    assert len(problems) == 1 and problems[0].startswith("refused the token: TokenRevokedError")
    guest = gp.sign(dict(case.claims, realm_access={"roles": ["api-guest"]}), case.signing_key, "HS256")
    problems = gp.decision_problems(case.full, guest, case.claims, gp.ROUTE_PATH)
    assert len(problems) == 1 and problems[0].startswith("refused the token: InsufficientScopeError")


def test_a_decision_on_another_route_or_with_other_claims_is_not_timed(gp, case):
    problems = gp.decision_problems(case.full, case.token, dict(case.claims, sub="someone else"), "/private/*")
    assert len(problems) == 2 and problems[0] == "returned other claims"
    assert problems[1].startswith("took the route") and problems[1].endswith("(/secure/*), not /private/*")


def test_a_policy_without_the_token_cache_is_not_timed(gp, case, tmp_path):
    data = gp.policy_data(True, "key", "HS256")
    data["provider"][0]["cache"] = 0
    (tmp_path / "key").write_text(case.full.providers[0].keys)
    uncached = Policy.from_dict(data, base=tmp_path)
    problems = gp.decision_problems(uncached, case.token, case.claims, gp.ROUTE_PATH)
    assert problems == ["the decision is not served from the verified-token cache"]


def test_a_policy_that_admits_what_the_full_one_refuses_is_not_timed(gp, case):
    # The plain policy has no routes, roles or revocation entries (it has max_age).
    problems = gp.refusal_problems(case.plain, case.signing_key, "HS256", case.claims)
    assert problems == [
        "ADMITTED a revoked jti",
        "ADMITTED a revoked subject",
        "ADMITTED a token without the role admin",
    ]
    assert gp.refusal_problems(case.full, case.signing_key, "HS256", case.claims) == []
    assert gp.refusal_problems(case.worst, case.signing_key, "HS256", case.claims) == []


def test_the_section_reports_a_miss_without_timing_when_a_check_fails(gp, monkeypatch):
    # A first route that needs a role the token does not hold: the full policy refuses it.
    monkeypatch.setattr(gp, "EXTRA_ROUTES", [{"path": "/secure/*", "roles_all": ["guest"]}, *gp.EXTRA_ROUTES])

    def no_timing(*args, **kwargs):
        raise AssertionError("timed a policy that failed its check")

    monkeypatch.setattr(gp, "run_rounds", no_timing)
    lines, targets = gp.section(quick=True, log=lambda s: None)
    text = "\n".join(lines)
    assert "**Not timed**" in text and "full policy refused the token: InsufficientScopeError" in text
    assert [ok for *_, ok in targets] == [False]
