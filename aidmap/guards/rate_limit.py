"""Rate limiting: a token bucket per partner key (its own limit) or, without a key, per client IP.

Operations sent over a websocket (graphql-transport-ws `subscribe` messages) draw from the same
bucket as the handshake's key (schema/live_socket.py asks through `scope["aidmap.rate_limit"]`).

Shared by every process through PostgreSQL (SharedBuckets), so N processes give a client its
limit once; without a database to ask, in this process. Over the limit, HTTP 429 with Retry-After, before any GraphQL work is done.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from aidmap.resolvers.accounts import bearer_token
from aidmap.resolvers.partners import PartnerKeys, is_partner_key

log = logging.getLogger(__name__)

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


# Takes `granted` tokens (at most :n, as many whole ones as the bucket has) in one statement; the
# SET expressions all see the row as it was, so the refill is computed once.
_TAKE = """
INSERT INTO rate_buckets AS b (key, tokens, granted, updated_at)
VALUES (%(key)s::text, %(cap)s::float8 - %(n)s::int, %(n)s::int, clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
    granted = LEAST(%(n)s::int, floor(LEAST(%(cap)s::float8,
        b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * %(rate)s::float8)))::int,
    tokens = LEAST(%(cap)s::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * %(rate)s::float8)
        - LEAST(%(n)s::int, floor(LEAST(%(cap)s::float8,
            b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * %(rate)s::float8))),
    updated_at = clock_timestamp()
RETURNING granted, tokens
"""
# A bucket idle for a minute is full again: forgetting it changes nothing.
_FORGET = "DELETE FROM rate_buckets WHERE updated_at < now() - interval '2 minutes'"
BATCH_SHARE = 50  # a process takes 1/50 of a limit at a time: N processes strand at most N/50 of it


class SharedBuckets:
    """The buckets in PostgreSQL, so every process draws from the same ones (the database is
    already shared; a Redis would be one more service to run for this alone). Each process takes
    tokens in batches of 1/50 of the limit and spends them locally, so a request costs a round
    trip only once per batch; tokens taken are gone from the shared bucket, so N processes
    together never exceed the limit (a process may hold a few unspent: up to N/50 of it).
    If the database cannot be asked, the process falls back to its own buckets."""

    def __init__(self, fallback: TokenBuckets | None = None) -> None:
        self._granted: dict[str, int] = {}
        self._fallback = fallback or TokenBuckets()
        self._takes = 0

    async def take(self, reader: Any, key: str, per_minute: int) -> float:
        left = self._granted.get(key, 0)
        if left > 0:
            self._granted[key] = left - 1
            return 0.0
        batch = max(1, per_minute // BATCH_SHARE)
        try:
            rows = await reader.fetch(_TAKE, {"key": key, "cap": per_minute, "n": batch, "rate": per_minute / 60.0})
            self._takes += 1
            if self._takes % 1000 == 0:
                await reader.execute(_FORGET, {})
        except Exception:  # the database is down: limit in this process until it is back
            log.warning("shared rate limit unavailable; limiting in this process")
            return self._fallback.take(key, per_minute)
        granted, tokens = rows[0].granted, rows[0].tokens
        if granted >= 1:
            if len(self._granted) >= MAX_BUCKETS:
                self._granted.clear()  # unspent tokens forgotten: stricter, never looser
            self._granted[key] = granted - 1
            return 0.0
        return float((1.0 - tokens) / (per_minute / 60.0))


class RateLimitMiddleware:
    """Limits every /graphql request and websocket handshake; /healthz is never limited."""

    def __init__(self, app: ASGIApp, *, per_ip: int, buckets: TokenBuckets | None = None, shared: bool = True) -> None:
        self.app = app
        self.per_ip = per_ip
        self.buckets = buckets or TokenBuckets()
        self.shared = SharedBuckets(self.buckets) if shared else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/graphql"):
            await self.app(scope, receive, send)
            return
        key, limit = await self._key(scope)
        wait = await self.take(key, limit, scope.get("state", {}).get("reader"))
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

    async def take(self, key: str, limit: int, reader: Any = None) -> float:
        """Spend one request of `key`; 0 when allowed, else the seconds until the next one is."""
        if self.shared is not None and reader is not None:
            return await self.shared.take(reader, key, limit)
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
