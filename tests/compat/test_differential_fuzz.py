"""Differential fuzz (hypothesis): random claims and headers, signed and then randomly
mutated; turbojwt never accepts what PyJWT refuses, and refuses what PyJWT accepts only
with the deliberate deviations' classes."""

from __future__ import annotations

import copy

import jwt

import turbojwt
from helpers.differential import AUD, FUT, ISS, OPTION_SETS, PAST, RECENT, SOON, SUB, dumps, get_ctx
from helpers.verdicts import verdict

try:  # pragma: no cover - exercised only if hypothesis is installed
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover
    HAVE_HYPOTHESIS = False

if HAVE_HYPOTHESIS:
    _json_scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from([PAST, FUT, SOON, RECENT, str(FUT), str(PAST), AUD, ISS, SUB, "١٢٣"]),
    )
    _json_value = st.recursive(
        _json_scalar,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
        max_leaves=12,
    )
    _claim_key = st.one_of(st.sampled_from(["exp", "nbf", "iat", "aud", "iss", "sub", "jti"]), st.text(max_size=8))
    _claims = st.dictionaries(_claim_key, _json_value, max_size=8)
    _header_extra = st.dictionaries(
        st.sampled_from(["alg", "kid", "crit", "b64", "typ", "cty", "x5t", "zip"]), _json_value, max_size=3
    )
    _TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é\x00"
    _op = st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 10_000), st.sampled_from(_TOKEN_CHARS)),
        st.tuples(st.just("delete"), st.integers(0, 10_000), st.just("")),
        st.tuples(st.just("insert"), st.integers(0, 10_000), st.sampled_from(_TOKEN_CHARS)),
        st.tuples(st.just("swap_segments"), st.integers(0, 2), st.sampled_from("012")),
    )
    _fuzz_opts = ["default", "aud", "iss", "no_sig", "leeway_int", "require_time", "strict_aud", "everything", "no_exp"]

    def _apply(token: str, ops: list) -> str:
        for op, pos, arg in ops:
            if op == "swap_segments":
                parts = token.split(".")
                i, j = pos % max(len(parts), 1), int(arg) % max(len(parts), 1)
                parts[i], parts[j] = parts[j], parts[i]
                token = ".".join(parts)
            elif not token:
                token = arg
            else:
                p = pos % (len(token) + (op == "insert"))
                if op == "replace":
                    token = token[:p] + arg + token[p + 1 :]
                elif op == "delete":
                    token = token[:p] + token[p + 1 :]
                else:
                    token = token[:p] + arg + token[p:]
        return token

    @settings(max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        claims=_claims,
        header_extra=_header_extra,
        ops=st.lists(_op, max_size=3),
        signer=st.sampled_from(["HS256", "RS256", "ES256", "EdDSA", "PS384"]),
        opts=st.sampled_from(_fuzz_opts),
    )
    def test_fuzz_turbojwt_never_more_lenient(keyring, claims, header_extra, ops, signer, opts) -> None:
        ctx = get_ctx(keyring, signer)
        try:
            token = ctx.sign({**ctx.header(), **header_extra}, dumps(claims))
        except (TypeError, ValueError):
            return  # not JSON-serialisable
        token = _apply(token, ops)
        km = ctx.km
        key = km.secret if km.kind == "oct" else km.public_pem
        kwargs = {"algorithms": [ctx.alg]}
        for k, v in OPTION_SETS[opts].items():
            kwargs[k] = v(ctx.alg) if callable(v) else copy.deepcopy(v)
        py = verdict(jwt, "decode", token, key, **copy.deepcopy(kwargs))
        tj = verdict(turbojwt, "decode", token, key, **copy.deepcopy(kwargs))
        if not py.ok:
            assert not tj.ok, f"turbojwt accepted what PyJWT rejects: {token!r}\n PyJWT: {py}\n turbojwt: {tj}"
        elif tj.ok:
            assert tj.outcome == py.outcome
        else:
            # only the named stricter cases (D1-D5) may refuse what PyJWT accepts
            assert tj.err_class in ("DecodeError", "InvalidIssuedAtError"), (token, py, tj)
