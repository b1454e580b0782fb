"""The forward-auth service behind ``turbojwt serve``: an ASGI app answering a proxy's
sub-request (nginx ``auth_request``, Traefik ForwardAuth, Envoy ``ext_authz`` HTTP) with
200 and the configured claim headers, or the RFC 6750 denial (401/403/400/503). Any path
and method is an auth check except ``/healthz`` and ``/metrics`` (Prometheus text).

With ``[[route]]`` tables the decision needs the original request's method and path,
which only the proxy knows; it is read from the headers of the one proxy the policy
trusts (``[forward_auth] proxy`` or ``--proxy``), which that proxy overwrites:

* ``nginx``: ``X-Original-Method`` and ``X-Original-URI`` (``proxy_set_header`` them to
  ``$request_method`` and ``$request_uri``);
* ``traefik``: ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (ForwardAuth sets them);
* ``envoy``: the check request itself: ``ext_authz`` sends the original method, and the
  original path after ``http_service.path_prefix`` (``[forward_auth] path_prefix``).

A missing or repeated header is 400 ``invalid_request``, never a default path.

A token in a query parameter is read from the original request's URI, which the same
proxy gives (nginx ``X-Original-URI``, Traefik ``X-Forwarded-Uri``, Envoy the check
request's own path and query); without a proxy setting, from the check request's own
query. With ``hide_credentials`` (which needs the proxy setting) the answer says what the
upstream request should be without the credentials, for the proxy to apply:
``X-Upstream-URI`` (the original URI without the token parameter), ``X-Upstream-Cookie``
(the cookies without the token cookie) and ``X-Upstream-Authorization`` (what stays of the
token header: an ``Authorization`` header of another scheme; else empty). The last two are
empty when nothing stays, so that a proxy setting them removes the header.

``/healthz`` says ``ok``, or that the revocation list is stale (200) or unavailable (503:
past its ``stale_after``, failing closed).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .asgi import Denial, Receive, Scope, Send, TokenSource, authorize, request_path, send_denial, source_for
from .credentials import request_headers
from .policy import Decision, Policy, PolicyError
from .reload import PolicyReloader
from .routes import PROXIES, PathError

log = logging.getLogger("turbojwt.serve")


class _Collector:
    """Reads the service's and the policy's counters at scrape time."""

    def __init__(self, app: ForwardAuthApp) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily("turbojwt_auth_requests", "Auth checks answered", labels=["result"])
        for result in ("allowed", "denied"):
            requests.add_metric([result], self.app.results[result])
        yield requests
        denied = CounterMetricFamily("turbojwt_auth_denied", "Auth checks refused, by reason", labels=["reason"])
        for reason, n in sorted(self.app.denials.items()):
            denied.add_metric([reason], n)
        yield denied
        by_provider = CounterMetricFamily("turbojwt_auth_allowed_by_provider", "Tokens accepted", labels=["provider"])
        for name, n in sorted(self.app.allowed_by.items()):
            by_provider.add_metric([name], n)
        yield by_provider
        by_consumer = CounterMetricFamily("turbojwt_auth_allowed_by_consumer", "Tokens accepted", labels=["consumer"])
        for name, n in sorted(self.app.allowed_by_consumer.items()):
            by_consumer.add_metric([name], n)
        yield by_consumer
        fetches = CounterMetricFamily("turbojwt_jwks_fetches", "Successful JWKS fetches", labels=["provider"])
        failures = CounterMetricFamily("turbojwt_jwks_fetch_failures", "Failed JWKS fetches", labels=["provider"])
        refetches = CounterMetricFamily(
            "turbojwt_jwks_unknown_kid_refetches", "Refetches for an unknown kid", labels=["provider"]
        )
        refusals = CounterMetricFamily(
            "turbojwt_jwks_unknown_kid_refusals", "Tokens refused for an unknown kid", labels=["provider"]
        )
        stale = GaugeMetricFamily("turbojwt_jwks_stale", "1 while serving keys past their TTL", labels=["provider"])
        age = GaugeMetricFamily("turbojwt_jwks_age_seconds", "Seconds since the last good fetch", labels=["provider"])
        for name, client in self.app.policy.jwks_clients():
            s = client.stats()
            fetches.add_metric([name], s["fetches"])
            failures.add_metric([name], s["fetch_failures"])
            refetches.add_metric([name], s["unknown_kid_refetches"])
            refusals.add_metric([name], s["unknown_kid_refusals"])
            stale.add_metric([name], 1.0 if s["stale"] else 0.0)
            if s["age"] is not None:
                age.add_metric([name], s["age"])
        yield from (fetches, failures, refetches, refusals, stale, age)
        hits = CounterMetricFamily("turbojwt_token_cache_hits", "Verified-token cache hits", labels=["provider"])
        misses = CounterMetricFamily("turbojwt_token_cache_misses", "Verified-token cache misses", labels=["provider"])
        size = GaugeMetricFamily("turbojwt_token_cache_size", "Tokens in the verified-token cache", labels=["provider"])
        for p in self.app.policy.providers:
            info = p.verifier.cache_info()
            if info is not None:
                hits.add_metric([p.name], info.hits)
                misses.add_metric([p.name], info.misses)
                size.add_metric([p.name], info.currsize)
        yield from (hits, misses, size)
        r = self.app.policy.revocations.status()
        yield GaugeMetricFamily(
            "turbojwt_revocation_stale", "1 while the revocation list is not confirmed in sync", value=float(r["stale"])
        )
        if r["sync_age"] is not None and math.isfinite(r["sync_age"]):  # a synchronised store that has synced
            yield GaugeMetricFamily(
                "turbojwt_revocation_sync_age_seconds",
                "Seconds since the list was confirmed in sync",
                value=r["sync_age"],
            )
        yield GaugeMetricFamily(
            "turbojwt_revocation_unavailable",
            "1 while past stale_after and failing closed",
            value=float(r["unavailable"]),
        )
        yield CounterMetricFamily(
            "turbojwt_revocation_sync_failures", "Failed attempts to sync the list", value=r["sync_failures"]
        )
        entries = GaugeMetricFamily("turbojwt_revocation_entries", "Entries in the revocation list", labels=["kind"])
        for kind in ("jti", "sub"):
            entries.add_metric([kind], r[f"entries_{kind}"])
        yield entries
        reloader = self.app.reloader
        if reloader is not None:
            yield CounterMetricFamily("turbojwt_policy_reloads", "Policy reloads", value=reloader.reloads)
            yield CounterMetricFamily(
                "turbojwt_policy_reload_failures",
                "Policy reloads refused (the old policy kept)",
                value=reloader.failures,
            )


class _Plan(NamedTuple):
    """What a request to ``ForwardAuthApp`` reads, fixed by its policy (worked out once per
    policy, not per request)."""

    policy: Policy
    source: TokenSource
    proxy: str | None
    # The headers the proxy gives the original method and URI in; None when the policy has
    # no routes or the proxy is Envoy (whose check request is the original request).
    original_headers: tuple[bytes, bytes] | None
    reads_uri: bool  # the original URI is read (a query token, hide_credentials)


class ForwardAuthApp:
    """The ASGI app. ``source`` says where tokens are read from (default: the policy's
    ``[token]`` table, else ``Authorization: Bearer``), which is what the proxies forward
    with the sub-request."""

    # The headers each proxy gives the original method and request URI in.
    _HEADERS: ClassVar[dict[str, tuple[bytes, bytes]]] = {
        "nginx": (b"x-original-method", b"x-original-uri"),
        "traefik": (b"x-forwarded-method", b"x-forwarded-uri"),
    }

    def __init__(
        self,
        policy: Policy,
        source: TokenSource | None = None,
        prewarm: bool = True,
        proxy: str | None = None,
        reloader: PolicyReloader | None = None,
    ) -> None:
        """``proxy`` overrides the policy's ``[forward_auth] proxy``; a policy with routes
        needs one (``PolicyError`` otherwise). ``reloader`` reloads the policy on SIGHUP.
        ``source`` overrides the policy's ``[token]`` table (giving both is a ``PolicyError``)."""
        self.proxy_override = proxy
        self.source_override = source
        self.check_policy(policy)
        self.policy = policy  # replaced whole on a reload (see .reload)
        self._plan = self._plan_for(policy)
        self.prewarm = prewarm
        self.reloader = reloader
        self.results: Counter[str] = Counter()
        self.denials: Counter[str] = Counter()
        self.allowed_by: Counter[str] = Counter()
        self.allowed_by_consumer: Counter[str] = Counter()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def proxy_for(self, policy: Policy) -> str | None:
        return self.proxy_override or policy.forward_auth.proxy

    @property
    def proxy(self) -> str | None:
        return self.proxy_for(self.policy)

    def source_for(self, policy: Policy) -> TokenSource:
        return source_for(policy, self.source_override)

    @property
    def source(self) -> TokenSource:
        """Where the running policy's tokens are read from."""
        return self.source_for(self.policy)

    def _plan_for(self, policy: Policy) -> _Plan:
        source, proxy = self.source_for(policy), self.proxy_for(policy)
        names = self._HEADERS.get(proxy) if policy.has_routes and proxy is not None else None
        reads_uri = proxy is not None and bool(source.query_param or source.hide_credentials)
        return _Plan(policy, source, proxy, names, reads_uri)

    def check_policy(self, policy: Policy) -> None:
        """Whether this app can serve ``policy`` (at start, and before a reload swaps it in)."""
        proxy = self.proxy_for(policy)
        if proxy is not None and proxy not in PROXIES:
            raise PolicyError(f"the proxy must be one of {', '.join(PROXIES)}, not {proxy!r}")
        if policy.has_routes and proxy is None:
            raise PolicyError(
                "a policy with [[route]] tables needs to know which proxy sends the original method and path: "
                f"set [forward_auth] proxy (or --proxy) to one of {', '.join(PROXIES)}"
            )
        try:
            source = self.source_for(policy)
        except TypeError as e:
            raise PolicyError(str(e)) from None
        if source.hide_credentials and proxy is None:
            raise PolicyError(
                "hide_credentials needs to know which proxy sends the original URI (to rewrite it): "
                f"set [forward_auth] proxy (or --proxy) to one of {', '.join(PROXIES)}"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        policy = self.policy  # this request's policy to its end, whatever a reload does
        path = scope.get("path", "")
        if path == "/healthz":
            await self._plain(send, *_health(policy), "text/plain; charset=utf-8")
            return
        if path == "/metrics":
            await self._plain(send, 200, generate_latest(self.registry), "text/plain; version=0.0.4; charset=utf-8")
            return
        result: Decision | Denial
        plan = self._plan
        if plan.policy is not policy:  # (the first request after a reload)
            plan = self._plan = self._plan_for(policy)
        source = plan.source
        uri = None
        method: str | None
        original: str | None
        headers = request_headers(scope)  # (read once: the original request, the token, hide_credentials)
        try:
            if plan.original_headers is not None:
                method, original = _original_request(headers, *plan.original_headers)
            else:
                method, original = self.original_request(scope, policy, headers)
            if plan.reads_uri:
                uri = self.original_uri(scope, policy, source, headers)
        except PathError as e:
            result = Denial(400, "path", "invalid_request", str(e))
        else:
            request = scope if uri is None else {**scope, "query_string": uri.partition(b"?")[2]}
            result = await authorize(policy, source, request, method, original, headers=headers)
        if isinstance(result, Denial):
            self.results["denied"] += 1
            self.denials[result.reason] += 1
            await send_denial(send, result, policy.realm)
            return
        self.results["allowed"] += 1
        answer = [(b"content-length", b"0")]
        verified = result.verified
        if verified is not None:
            if verified.provider is not None:
                self.allowed_by[verified.provider] += 1
            if verified.consumer is not None:
                self.allowed_by_consumer[verified.consumer] += 1
            answer += policy.answer_headers(verified)
        if source.hide_credentials:
            answer += _upstream_request(source, headers, uri)
        await send({"type": "http.response.start", "status": 200, "headers": answer})
        await send({"type": "http.response.body", "body": b""})

    def original_request(
        self, scope: Scope, policy: Policy | None = None, headers: dict[bytes, list[bytes]] | None = None
    ) -> tuple[str | None, str | None]:
        """The original request's method and path (without the query) as the trusted proxy
        gives them; (None, None) when the policy (default: the app's) has no routes (the
        path is not read). ``headers``: ``request_headers(scope)``, when read already.
        Raises ``PathError`` for a missing or repeated header."""
        policy = policy or self.policy
        if not policy.has_routes:
            return None, None
        proxy = self.proxy_for(policy)
        if proxy == "envoy":
            prefix = policy.forward_auth.path_prefix
            path = request_path(scope)
            if not path.startswith(prefix + "/"):
                raise PathError(f"the check request's path does not start with {prefix}/")
            return scope.get("method", ""), path[len(prefix) :]
        if headers is None:
            headers = request_headers(scope)
        return _original_request(headers, *self._HEADERS[str(proxy)])

    def original_uri(
        self, scope: Scope, policy: Policy, source: TokenSource, headers: dict[bytes, list[bytes]] | None = None
    ) -> bytes:
        """The original request's URI, with its query, as the trusted proxy gives it
        (``headers``: ``request_headers(scope)``, when read already). Raises ``PathError``
        for a missing or repeated header, or (to be rewritten under ``hide_credentials``) a
        URI that is not a path."""
        proxy = self.proxy_for(policy)
        if proxy == "envoy":
            prefix = policy.forward_auth.path_prefix
            path = request_path(scope)
            if not path.startswith(prefix + "/"):
                raise PathError(f"the check request's path does not start with {prefix}/")
            query = scope.get("query_string", b"")
            uri = path[len(prefix) :].encode("latin-1") + (b"?" + query if query else b"")
        else:
            name = self._HEADERS[str(proxy)][1]
            if headers is None:
                headers = request_headers(scope)
            found = headers.get(name, [])
            if len(found) != 1:
                raise PathError(f"the proxy must send one {name.decode()} header")
            uri = found[0]
        if source.hide_credentials and not uri.startswith(b"/"):
            raise PathError("the original URI is not a path")  # it is appended to the upstream's address
        return uri

    async def _plain(self, send: Send, status: int, body: bytes, content_type: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await asyncio.to_thread(self.policy.start)  # the revocation replica's first sync
                if self.reloader is not None:
                    self.reloader.attach(self)
                if self.prewarm:
                    for name, client in self.policy.jwks_clients():
                        try:
                            await client.aprewarm()
                        except Exception as e:
                            log.warning("prewarming the keys of %s failed: %s", name, e)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.reloader is not None:
                    await self.reloader.detach()
                await asyncio.to_thread(self.policy.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _original_request(headers: dict[bytes, list[bytes]], method_name: bytes, uri_name: bytes) -> tuple[str, str]:
    """The original method and path (without the query) from the proxy's two headers, each
    of which must come once."""
    methods = headers.get(method_name)
    if methods is None or len(methods) != 1:
        raise PathError(f"the proxy must send one {method_name.decode()} header")
    uris = headers.get(uri_name)
    if uris is None or len(uris) != 1:
        raise PathError(f"the proxy must send one {uri_name.decode()} header")
    # (latin-1 maps each byte to one character: splitting first is the same)
    return methods[0].decode("latin-1"), uris[0].partition(b"?")[0].decode("latin-1")


def _health(policy: Policy) -> tuple[int, bytes]:
    """/healthz: 200 ``ok``; 200 ``stale`` while the revocation list is not confirmed in
    sync; 503 ``unavailable`` past its ``stale_after`` when failing closed."""
    r = policy.revocations.status()
    age = r["sync_age"]
    since = "never synced" if age is None or not math.isfinite(age) else f"last synced {age:.1f} s ago"
    if r["unavailable"]:
        return 503, f"unavailable: revocation list {since}\n".encode()
    if r["stale"]:
        return 200, f"stale: revocation list {since}\n".encode()
    return 200, b"ok\n"


def _upstream_request(
    source: TokenSource, headers: dict[bytes, list[bytes]], uri: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The ``hide_credentials`` answer headers (see the module documentation)."""
    cookies = [kept for value in headers.get(b"cookie", []) if (kept := source.cookie_without(value))]
    token_header = headers.get(source.header.lower().encode("ascii"), [])
    out = [
        (b"x-upstream-cookie", b"; ".join(cookies)),
        (b"x-upstream-authorization", source.header_for_upstream(token_header) or b""),
    ]
    if uri is not None:
        path, question, query = uri.partition(b"?")
        query = source.query_without(query)
        out.append((b"x-upstream-uri", path + b"?" + query if question and query else path))
    return out
