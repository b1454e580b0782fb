"""The forward-auth service behind ``turbojwt serve``: an ASGI app answering a proxy's
sub-request (nginx ``auth_request``, Traefik ForwardAuth, Envoy ``ext_authz`` HTTP) with
200 and the configured claim headers, or the RFC 6750 denial (401/403/400/503). Any path
and method is an auth check except ``/healthz`` and ``/metrics`` (Prometheus text).

A token in a query parameter is read from the original request's URI (``X-Original-URI``
from nginx, ``X-Forwarded-Uri`` from Traefik; else the check request's own query, as Envoy
sends it); several different ones are a 400. With ``hide_credentials`` the answer says what
the upstream request should be without the credentials, for the proxy to apply:
``X-Upstream-URI`` (the original URI without the token parameter; only when the original
URI is known), ``X-Upstream-Cookie`` (the cookies without the token cookie) and
``X-Upstream-Authorization`` (what stays of the token header: an ``Authorization`` header of
another scheme; else empty). The last two are always sent, empty when nothing stays, so
that a proxy setting them removes the header.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .asgi import Denial, Receive, Scope, Send, TokenSource, authenticate, send_denial, source_for
from .credentials import BadRequest, request_headers
from .policy import Policy, Verified

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


class ForwardAuthApp:
    """The ASGI app. ``source`` says where tokens are read from (default: the policy's
    ``[token]`` table, else ``Authorization: Bearer``), which is what the proxies forward
    with the sub-request."""

    def __init__(self, policy: Policy, source: TokenSource | None = None, prewarm: bool = True) -> None:
        self.policy = policy
        self.source = source_for(policy, source)
        self.prewarm = prewarm
        self.results: Counter[str] = Counter()
        self.denials: Counter[str] = Counter()
        self.allowed_by: Counter[str] = Counter()
        self.allowed_by_consumer: Counter[str] = Counter()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if path == "/healthz":
            await self._plain(send, 200, b"ok\n", "text/plain; charset=utf-8")
            return
        if path == "/metrics":
            await self._plain(send, 200, generate_latest(self.registry), "text/plain; version=0.0.4; charset=utf-8")
            return
        source = self.source
        uri = None
        try:
            if source.query_param or source.hide_credentials:  # (else the headers are not read twice)
                uri = _original_uri(scope, request_headers(scope), source.hide_credentials)
        except BadRequest as e:
            result: Verified | Denial = Denial(400, "bad_request", "invalid_request", str(e))
        else:
            request = scope if uri is None else {**scope, "query_string": uri.partition(b"?")[2]}
            result = await authenticate(self.policy, self.source, request)
        if isinstance(result, Denial):
            self.results["denied"] += 1
            self.denials[result.reason] += 1
            await send_denial(send, result, self.policy.realm)
            return
        self.results["allowed"] += 1
        if result.provider is not None:
            self.allowed_by[result.provider] += 1
        if result.consumer is not None:
            self.allowed_by_consumer[result.consumer] += 1
        # Claim values are printable ASCII (policy.header_value percent-encodes the rest).
        answer = [
            (k.lower().encode("ascii"), v.encode("ascii"))
            for k, v in self.policy.headers_for(result.claims, result.consumer).items()
        ]
        if self.source.hide_credentials:
            answer += self._upstream_request(request_headers(scope), uri)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0"), *answer]})
        await send({"type": "http.response.body", "body": b""})

    def _upstream_request(self, headers: dict[bytes, list[bytes]], uri: bytes | None) -> list[tuple[bytes, bytes]]:
        """The ``hide_credentials`` answer headers (see the module documentation)."""
        source = self.source
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
                if self.prewarm:
                    for name, client in self.policy.jwks_clients():
                        try:
                            await client.aprewarm()
                        except Exception as e:
                            log.warning("prewarming the keys of %s failed: %s", name, e)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _original_uri(scope: Scope, headers: dict[bytes, list[bytes]], hide: bool) -> bytes | None:
    """The original request's URI as the proxy passes it (nginx ``X-Original-URI``, Traefik
    ``X-Forwarded-Uri``), None when neither is sent. ``BadRequest`` when it is ambiguous, so
    that the token checked is the one the upstream gets: several values (a client's own
    header next to the proxy's), a query other than the check request's own (when that has
    one, as Envoy sends it), or, to be rewritten for the upstream, not a path."""
    values = {v.strip(b" \t") for name in (b"x-original-uri", b"x-forwarded-uri") for v in headers.get(name, [])}
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("several different original URIs")
    uri = values.pop()
    own = scope.get("query_string", b"")
    if own and own != uri.partition(b"?")[2]:
        raise BadRequest("the original URI and the check request have different queries")
    if hide and not uri.startswith(b"/"):
        raise BadRequest("the original URI is not a path")
    return uri
