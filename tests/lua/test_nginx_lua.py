"""End to end with real parts: Debian's nginx with its lua module (LuaJIT) runs
examples/nginx-lua/nginx.conf (its paths and ports replaced) with resty.turbojwt over this
checkout's libturbojwt. Valid tokens reach the upstream with the claim headers; forged,
expired, wrong-audience, ``alg: none``, HS/RS-confused and oversized tokens get the Python
gateway's RFC 6750 answers, and the verdict nginx logs for each is ``turbojwt.decode``'s
(exception class and message); a missing role is a 403; the public route is open; the key
file is re-read under the running nginx (a new key replaces the old one, a bad file keeps it).

nginx, the lua module and lua-cjson are installed with apt-get when missing (this module
fails under CI=true if they cannot be, so the test cannot pass by skipping there).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import turbojwt
from helpers import capi_build
from helpers.lua import LUA_DIR, nginx_with_lua
from helpers.nginx import free_port, running, wait_until
from turbojwt.gateway.asgi import denial_for

pytestmark = pytest.mark.e2e  # nginx as a process

NGINX = nginx_with_lua()
if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx with libnginx-mod-http-lua and lua-cjson is missing and could not be installed")
    pytest.skip("nginx's lua module is not installed and cannot be installed here", allow_module_level=True)

EXAMPLE = capi_build.ROOT / "examples" / "nginx-lua" / "nginx.conf"
ISSUER = "https://idp.example.com"
AUDIENCE = "shop-api"
RELOAD_DEADLINE = 20.0  # the example re-reads its key file every 2 s


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_atomically(path: Path, data: bytes) -> None:
    """As a key rotation should: the worker never reads half a file."""
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.replace(path)


def render(example: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in example, f"{EXAMPLE} no longer has {old!r}"
        example = example.replace(old, new)
    return example


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {"k1": rsa.generate_private_key(65537, 2048), "k2": rsa.generate_private_key(65537, 2048)}


@contextlib.contextmanager
def running_nginx(prefix: Path, key: bytes | None) -> Iterator[dict[str, Any]]:
    """The example's nginx under ``prefix``, with ``key`` in its key file (None: no file)."""
    key_file = prefix / "idp.pem"
    if key is not None:
        key_file.write_bytes(key)
    port, upstream_port = free_port(), free_port()
    library = capi_build.library()
    conf = render(
        EXAMPLE.read_text(encoding="utf-8"),
        {
            "/opt/turbojwt/lua": str(LUA_DIR),
            "/opt/turbojwt/lib": str(library.parent),
            "/etc/turbojwt/idp.pem": str(key_file),
            "127.0.0.1:8080": f"127.0.0.1:{port}",
            "127.0.0.1:9000": f"127.0.0.1:{upstream_port}",
            # One worker: the reload is per worker, and a request must land on the one that reloaded.
            "worker_processes auto;": "worker_processes 1;" + (" user root;" if os.geteuid() == 0 else ""),
            # The refusals' verdicts are logged at info.
            "error_log logs/error.log notice;": "error_log logs/error.log info;",
        },
    )
    url = f"http://127.0.0.1:{port}"
    with running(NGINX, prefix, conf, url + "/public/ping") as log:
        yield {"url": url, "key_file": key_file, "log": log}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, rsa.RSAPrivateKey]) -> Iterator[dict[str, Any]]:
    with running_nginx(tmp_path_factory.mktemp("nginx-lua"), public_pem(keys["k1"])) as started:
        yield started


def claims(**extra: Any) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "roles": ["buyer", "admin"],
        "exp": int(time.time()) + 300,
        **extra,
    }


def token(key: Any, algorithm: str = "RS256", **extra: Any) -> str:
    return turbojwt.encode(claims(**extra), key, algorithm=algorithm)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def get(stack: dict[str, Any], tok: str | None = None, path: str = "/orders", **headers: str) -> httpx.Response:
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    return httpx.get(stack["url"] + path, headers=headers)


def pyo3_verdict(tok: str, pem: bytes) -> turbojwt.PyJWTError:
    """The exception turbojwt.decode raises for ``tok`` under the example's policy."""
    with pytest.raises(turbojwt.PyJWTError) as e:
        turbojwt.decode(
            tok,
            pem,
            algorithms=["RS256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway=30,
            options={"require": ["exp", "sub"]},
        )
    return e.value


def test_public_route_is_open(stack: dict[str, Any]) -> None:
    r = get(stack, path="/public/catalog")
    assert r.status_code == 200 and r.json()["uri"] == "/public/catalog"
    assert get(stack, "not-a-token", path="/public/catalog").status_code == 200


def test_valid_token_reaches_the_upstream_with_claim_headers(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    r = get(stack, token(keys["k1"]))
    assert r.status_code == 200
    seen = r.json()["headers"]
    assert seen["x-auth-subject"] == "alice" and seen["x-auth-roles"] == "buyer,admin"
    # The client's own copies are removed: a claim the token does not have is no header.
    r = get(stack, token(keys["k1"], sub="bob", roles=None), **{"X-Auth-Subject": "root", "X-Auth-Roles": "admin"})
    seen = r.json()["headers"]
    assert seen["x-auth-subject"] == "bob" and "x-auth-roles" not in seen


def test_claim_headers_are_percent_encoded_as_the_gateways(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    r = get(stack, token(keys["k1"], sub="Zoë 李", roles=["sales,eu", "ops", "a\x85b"]))
    seen = r.json()["headers"]
    assert seen["x-auth-subject"] == "Zo%C3%AB %E6%9D%8E"
    assert seen["x-auth-roles"] == "sales%2Ceu,ops,a%C2%85b"


def test_token_from_the_cookie(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    r = get(stack, Cookie=f"theme=dark; session={token(keys['k1'], sub='carol')}")
    assert r.status_code == 200 and r.json()["headers"]["x-auth-subject"] == "carol"


@pytest.mark.parametrize(
    "headers",
    [
        lambda t, u: {"Authorization": f"Bearer\t{t}"},
        lambda t, u: {"Cookie": f"session={u}; session={t}"},
        lambda t, u: {"Authorization": f"Bearer {t}", "Cookie": f"session={u}"},
        lambda t, u: {"Authorization": f"Bearer {t} {u}"},
    ],
    ids=["tab", "cookie twice", "header and cookie", "two tokens"],
)
def test_ambiguous_credentials_are_a_400(stack: dict[str, Any], keys: dict[str, Any], headers: Any) -> None:
    r = get(stack, **headers(token(keys["k1"]), token(keys["k1"], sub="mallory")))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "www-authenticate" not in r.headers


def test_two_authorization_headers_are_a_400(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    tok = token(keys["k1"])
    r = httpx.get(
        stack["url"] + "/orders", headers=[("Authorization", f"Bearer {tok}"), ("Authorization", "Basic eDp5")]
    )
    # nginx refuses a duplicate Authorization header itself (resty.turbojwt would too).
    assert r.status_code == 400 and "www-authenticate" not in r.headers and "headers" not in r.text
    # Another scheme alone is not ours: no token.
    r = httpx.get(stack["url"] + "/orders", headers={"Authorization": "Basic eDp5"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="shop"'


def forged(keys: dict[str, Any]) -> str:
    return token(keys["k2"])  # k2 signs, k1 is the key


def expired(keys: dict[str, Any]) -> str:
    return token(keys["k1"], exp=int(time.time()) - 3600)


def wrong_audience(keys: dict[str, Any]) -> str:
    return token(keys["k1"], aud="other-api")


def alg_none(keys: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims()).encode())}."


def hs_rs_confusion(keys: dict[str, Any]) -> str:
    """HS256 MACed with the RSA public key's PEM, the verifier's key, as the secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    import hashlib
    import hmac

    mac = hmac.new(public_pem(keys["k1"]), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def missing_subject(keys: dict[str, Any]) -> str:
    return turbojwt.encode({k: v for k, v in claims().items() if k != "sub"}, keys["k1"], algorithm="RS256")


def garbage(keys: dict[str, Any]) -> str:
    return "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"


@pytest.mark.parametrize("make", [forged, expired, wrong_audience, alg_none, hs_rs_confusion, missing_subject, garbage])
def test_bad_tokens_get_the_gateways_401_and_decodes_verdict(
    stack: dict[str, Any], keys: dict[str, Any], make: Any
) -> None:
    tok = make(keys)
    r = get(stack, tok)
    expected = pyo3_verdict(tok, public_pem(keys["k1"]))
    denial = denial_for(expected)
    assert r.status_code == 401 == denial.status
    assert r.headers["www-authenticate"] == denial.challenge("shop")["www-authenticate"]
    assert r.json() == denial.document()
    # What nginx logged for it is turbojwt.decode's verdict, class and message.
    line = f"turbojwt: token refused: {type(expected).__name__}: {expected}"
    wait_until(lambda: line in stack["log"].read_text(errors="replace"), f"the log line {line!r}", timeout=5)


def test_no_token_is_a_401_without_error_code(stack: dict[str, Any]) -> None:
    r = get(stack)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="shop"'
    assert r.json() == {"error": "unauthorized"}


def test_oversized_tokens(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    """Over max_token_bytes (8192): 401 malformed, though validly signed (the PyO3 path's own
    limit is 1 MiB); over nginx's header buffer (16k in the example): nginx's own 400."""
    big = token(keys["k1"], pad="x" * 9000)
    assert 8192 < len(big) < 15000
    turbojwt.decode(big, public_pem(keys["k1"]), algorithms=["RS256"], audience=AUDIENCE)  # valid
    r = get(stack, big)
    assert r.status_code == 401
    assert 'error="invalid_token", error_description="The token is malformed"' in r.headers["www-authenticate"]
    line = f"turbojwt: token refused: DecodeError: Token is {len(big)} bytes long, over the limit of 8192 bytes"
    wait_until(lambda: line in stack["log"].read_text(errors="replace"), "the oversized token's log line", timeout=5)
    huge = token(keys["k1"], pad="x" * 20000)
    r = get(stack, huge)
    assert r.status_code == 400 and "www-authenticate" not in r.headers
    assert "Request Header Or Cookie Too Large" in r.text


def test_roles(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    r = get(stack, token(keys["k1"]), path="/admin/users")
    assert r.status_code == 200 and r.json()["headers"]["x-auth-subject"] == "alice"
    assert get(stack, token(keys["k1"], roles="buyer admin"), path="/admin/users").status_code == 200
    for roles in (["buyer"], "buyer", "administrator", "buyer\u00a0admin", None):
        r = get(stack, token(keys["k1"], roles=roles), path="/admin/users")
        assert r.status_code == 403, roles
        assert r.headers["www-authenticate"] == (
            'Bearer realm="shop", error="insufficient_scope", '
            'error_description="The token lacks a required scope", scope="admin"'
        )
        assert r.json() == {
            "error": "insufficient_scope",
            "error_description": "The token lacks a required scope",
            "scope": "admin",
        }
    # An invalid token on the admin route is a 401, not a 403.
    assert get(stack, expired(keys), path="/admin/users").status_code == 401


def test_key_file_rotated_under_running_nginx(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    old = token(keys["k1"], sub="old")
    assert get(stack, old).status_code == 200  # and now in the verifier's cache
    new = token(keys["k2"], sub="new")
    assert get(stack, new).status_code == 401
    write_atomically(stack["key_file"], public_pem(keys["k2"]))
    wait_until(lambda: get(stack, new).status_code == 200, "the new key", timeout=RELOAD_DEADLINE)
    assert get(stack, new).json()["headers"]["x-auth-subject"] == "new"
    r = get(stack, old)
    assert r.status_code == 401 and "The token's signature is invalid" in r.headers["www-authenticate"]


def test_bad_key_file_keeps_the_key(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    current = public_pem(keys["k2"])
    write_atomically(stack["key_file"], current)  # whatever the test before did
    wait_until(lambda: get(stack, token(keys["k2"])).status_code == 200, "the key", timeout=RELOAD_DEADLINE)
    bad = b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
    write_atomically(stack["key_file"], bad)
    # The library's tj_verifier_check_key refuses it, with PyJWT's message.
    wait_until(
        lambda: (
            "Could not parse the provided public key. (InvalidKeyError); keeping the key loaded before"
            in stack["log"].read_text(errors="replace")
        ),
        "the bad key file's log line",
        timeout=RELOAD_DEADLINE,
    )
    r = get(stack, token(keys["k2"], sub="still"))
    assert r.status_code == 200 and r.json()["headers"]["x-auth-subject"] == "still"
    assert get(stack, token(keys["k1"])).status_code == 401
    # A good file after the bad one is taken.
    write_atomically(stack["key_file"], public_pem(keys["k1"]))
    wait_until(
        lambda: get(stack, token(keys["k1"])).status_code == 200, "the key after the bad file", timeout=RELOAD_DEADLINE
    )


def test_token_from_the_query(stack: dict[str, Any], keys: dict[str, Any]) -> None:
    tok, other = token(keys["k1"], sub="dora"), token(keys["k1"], sub="mallory")
    assert get(stack, path=f"/downloads/report.pdf?jwt={tok}").status_code == 200
    assert get(stack, path=f"/downloads/report.pdf?x=1&jwt={tok}&jwt={tok}").status_code == 200  # the same token
    assert get(stack, path=f"/downloads/report.pdf?x={tok}").status_code == 401
    for query in (f"jwt={tok}&jwt={other}", f"jwt={tok};jwt={other}", f"a=b;jwt={other}&jwt={tok}"):
        r = get(stack, path=f"/downloads/report.pdf?{query}")
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", query
    r = get(stack, tok, path=f"/downloads/report.pdf?jwt={other}")
    assert r.status_code == 400 and r.json()["error_description"] == "several different tokens"
    # Not on the routes that do not read it.
    assert get(stack, path=f"/orders?jwt={tok}").status_code == 401


def test_no_key_file_at_start_is_a_503_until_one_comes(tmp_path: Path, keys: dict[str, Any]) -> None:
    with running_nginx(tmp_path, None) as started:
        tok = token(keys["k1"])
        r = get(started, tok)
        assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
        assert "www-authenticate" not in r.headers
        assert get(started).status_code == 401  # no token: still the 401
        write_atomically(started["key_file"], public_pem(keys["k1"]))
        wait_until(lambda: get(started, tok).status_code == 200, "the key file", timeout=RELOAD_DEADLINE)
