"""Rate limiting: a token bucket per partner key (its own limit) or, without a key, per client IP.

Operations sent over a websocket (graphql-transport-ws `subscribe` messages) draw from the same
bucket as the handshake's key (schema/live_socket.py asks through `scope["aidmap.rate_limit"]`).

In-process: with N processes behind a load balancer a client gets up to N times the limit
(see docs). Over the limit, HTTP 429 with Retry-After, before any GraphQL work is done.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from aidmap.resolvers.accounts import bearer_token
from aidmap.resolvers.partners import PartnerKeys, is_partner_key

MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`limit` requests per minute per key, in bursts of up to `limit`."""

    def __init__(self, clock: type[time.monotonic] | None = None) -> None:  # type: ignore[valid-type]
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock or time.monotonic

    def take(self, key: str, per_minute: int) -> float:
        """Spend one request; 0 when allowed, else the seconds until the next one is."""
        now = self._clock()
        rate = per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now, rate)
            bucket = self._buckets[key] = _Bucket(tokens=float(per_minute), updated=now)
        else:
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_full(self, now: float, rate: float) -> None:
        # Buckets idle for a minute are full again: forgetting them changes nothing.
        stale = [k for k, b in self._buckets.items() if now - b.updated > 60.0]
        for key in stale or list(self._buckets)[: MAX_BUCKETS // 10]:
            del self._buckets[key]


class RateLimitMiddleware:
    """Limits every /graphql request and websocket handshake; /healthz is never limited."""

    def __init__(self, app: ASGIApp, *, per_ip: int, buckets: TokenBuckets | None = None) -> None:
        self.app = app
        self.per_ip = per_ip
        self.buckets = buckets or TokenBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/graphql"):
            await self.app(scope, receive, send)
            return
        key, limit = await self._key(scope)
        wait = await self.take(key, limit)
        if scope["type"] == "websocket":
            scope["aidmap.rate_limit"] = (self, key, limit)
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        if scope["type"] == "websocket":
            await send(
                {"type": "websocket.close", "code": 1013, "reason": f"Rate limited; retry after {retry_after} s"}
            )
            return
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"Too many requests; retry after {retry_after} s.",
                        "extensions": {"code": "RATE_LIMITED"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", retry_after.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def take(self, key: str, limit: int) -> float:
        """Spend one request of `key`; 0 when allowed, else the seconds until the next one is."""
        return self.buckets.take(key, limit)

    async def _key(self, scope: Scope) -> tuple[str, int]:
        header = dict(scope.get("headers", ())).get(b"authorization")
        token = bearer_token(header.decode("latin-1") if header is not None else None)
        keys: PartnerKeys | None = scope.get("state", {}).get("partner_keys")
        if token and is_partner_key(token) and keys is not None:
            try:
                partner = await keys.lookup(token)
            except Exception:  # the database is down: limit by address until it is back
                partner = None
            if partner is not None:
                return f"partner:{partner.id}", partner.rate_limit_per_minute
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}", self.per_ip
