"""Rate limiting: a token bucket per partner key (its own limit) or, without a key, per client IP,
and per account for a signed-in person (AIDMAP_RATE_LIMIT_PER_ACCOUNT) besides the IP's.

Who is asking comes from the one authentication step (guards/identity.py: the Caller's rate_key,
rate_limit and rate_account_id), identified here first and kept for the rest of the request.
Operations sent over a websocket (graphql-transport-ws `subscribe` messages) draw from the same
buckets as HTTP requests of the same key, address and account (schema/fast/live_socket.py asks through
`scope["aidmap.rate_limit"]` with the socket's Caller: the credentials of connection_init count,
not only the handshake's).

Shared by every process through PostgreSQL (SharedBuckets), so N processes give a client its
limit once; without a database to ask, in this process. Over the limit, HTTP 429 with Retry-After, before any GraphQL work is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from aidmap.guards.identity import Caller, caller_of, credentials_of, ip_key
from aidmap.resolvers.partners import is_partner_key
from aidmap.services import services_of

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
# This process is alive; how many are (itself and the others seen within PROCESS_SEEN_SECONDS).
_HEARTBEAT = """
WITH me AS (
    INSERT INTO rate_limit_processes (process, seen_at) VALUES (%(process)s::text, clock_timestamp())
    ON CONFLICT (process) DO UPDATE SET seen_at = clock_timestamp() RETURNING process
), gone AS (
    DELETE FROM rate_limit_processes WHERE seen_at < now() - interval '1 hour' RETURNING process
)
SELECT 1 + count(*) FILTER (WHERE process <> %(process)s::text AND seen_at > now() - make_interval(secs => %(seen)s::float8))
    AS processes
FROM rate_limit_processes
"""
# All processes together hold at most 1.5 x this share of a limit taken and not yet spent (a batch
# and the next one leased ahead): the client gets at least 92.5% of its limit, never more than all of it.
LEASE_SHARE = 0.05
HEARTBEAT_SECONDS = 5.0
PROCESS_SEEN_SECONDS = 15.0


class SharedBuckets:
    """The buckets in PostgreSQL, so every process draws from the same ones (the database is
    already shared; a Redis would be one more service to run for this alone).

    A process leases tokens in batches and spends them locally, so a request costs a round trip only
    once per batch, and the next batch is leased in the background while half of one is left. Tokens leased are gone from the shared bucket, so N processes together never
    exceed the limit; what they may hold unspent is at most 1.5 x LEASE_SHARE of it: each process's
    batch is 1 + 5% of the limit / N, N being the processes seen lately (each one says it is alive every 5 s in
    rate_limit_processes). Too small an N (a process just started) only makes the limit stricter.

    A refusal says when the next token comes (the bucket refills at a known rate and no process can
    add to it), so until then this process refuses that key by itself: a client hammering past its
    limit costs no round trips. If the database cannot be asked, the process falls back to its own
    buckets."""

    def __init__(self, fallback: TokenBuckets | None = None, clock: type[time.monotonic] | None = None) -> None:  # type: ignore[valid-type]
        self._leases: dict[str, int] = {}
        self._refused_until: dict[str, float] = {}
        self._refills: dict[str, asyncio.Task[None]] = {}
        self._fallback = fallback or TokenBuckets()
        self._clock = clock or time.monotonic
        self._process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.processes = 1
        self._next_heartbeat = 0.0
        self.round_trips = 0

    def batch(self, per_minute: int) -> int:
        """Tokens taken in one round trip for a limit of `per_minute`."""
        return 1 + int(per_minute * LEASE_SHARE / self.processes)

    async def take(self, reader: Any, key: str, per_minute: int) -> float:
        """Spend one request of `key`; 0 when allowed, else the seconds until the next one is."""
        left = self._leases.get(key, 0)
        if left > 0:
            self._leases[key] = left - 1
            if left - 1 <= self.batch(per_minute) // 2:
                self._refill_ahead(reader, key, per_minute)
            return 0.0
        refill = self._refills.get(key)
        if refill is not None:
            # A batch is on its way: wait for it (shielded: a client that goes away does not cancel
            # what other requests of the key wait for), then spend from it or take its refusal.
            await asyncio.shield(refill)
            if self._leases.get(key, 0) > 0 or key in self._refused_until:
                return await self.take(reader, key, per_minute)
        now = self._clock()
        until = self._refused_until.get(key)
        if until is not None:
            if now < until:
                return until - now
            del self._refused_until[key]
        try:
            granted, tokens = await self._lease(reader, key, per_minute, now)
        except Exception:  # the database is down: limit in this process until it is back
            log.warning("shared rate limit unavailable; limiting in this process")
            return self._fallback.take(key, per_minute)
        if granted >= 1:
            self._keep_lease(key, granted - 1)
            if granted - 1 <= self.batch(per_minute) // 2:
                self._refill_ahead(reader, key, per_minute)
            return 0.0
        return self._refuse(key, tokens, per_minute, now)

    def _refill_ahead(self, reader: Any, key: str, per_minute: int) -> None:
        """Lease the next batch while half of this one is left, so a client within its limit does not
        wait for the round trip (at a low limit every batch is a few tokens: without this, most of its
        requests would). Unspent, a process holds at most 1.5 batches of a key."""
        if key in self._refills or self._clock() < self._refused_until.get(key, 0.0):
            return
        if len(self._refills) >= MAX_BUCKETS:
            return  # too many at once: the request path asks when the lease is spent
        self._refills[key] = asyncio.create_task(self._refill(reader, key, per_minute))

    async def _refill(self, reader: Any, key: str, per_minute: int) -> None:
        now = self._clock()
        try:
            granted, tokens = await self._lease(reader, key, per_minute, now)
        except Exception:
            return  # the request path asks again (and falls back to this process if it must)
        finally:
            self._refills.pop(key, None)
        if granted >= 1:
            self._keep_lease(key, self._leases.get(key, 0) + granted)
        else:
            self._refuse(key, tokens, per_minute, now)  # applies once what is leased is spent

    async def _lease(self, reader: Any, key: str, per_minute: int, now: float) -> tuple[int, float]:
        if now >= self._next_heartbeat:
            await self._heartbeat(reader, now)
        params = {"key": key, "cap": per_minute, "n": self.batch(per_minute), "rate": per_minute / 60.0}
        rows = await reader.fetch(_TAKE, params)
        self.round_trips += 1
        if self.round_trips % 1000 == 0:
            await reader.execute(_FORGET, {})
        return int(rows[0].granted), float(rows[0].tokens)

    def _keep_lease(self, key: str, tokens: int) -> None:
        if len(self._leases) >= MAX_BUCKETS and key not in self._leases:
            self._leases.clear()  # unspent tokens forgotten: stricter, never looser
        self._leases[key] = tokens

    def _refuse(self, key: str, tokens: float, per_minute: int, now: float) -> float:
        wait = float((1.0 - tokens) / (per_minute / 60.0))
        if len(self._refused_until) >= MAX_BUCKETS:
            self._refused_until.clear()  # forgotten refusals only cost round trips again
        self._refused_until[key] = now + wait
        return wait

    async def _heartbeat(self, reader: Any, now: float) -> None:
        rows = await reader.fetch(_HEARTBEAT, {"process": self._process, "seen": PROCESS_SEEN_SECONDS})
        self.processes = max(1, int(rows[0].processes))
        self._next_heartbeat = now + HEARTBEAT_SECONDS


class RateLimitMiddleware:
    """Limits every /graphql request and websocket handshake; /healthz is never limited.

    A request with a partner key draws from the key's bucket; any other from its address's, and a
    signed-in person's also from their account's (so more addresses give one account no more, and
    more accounts give one address no more)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_ip: int,
        per_account: int | None = None,
        buckets: TokenBuckets | None = None,
        shared: bool = True,
    ) -> None:
        self.app = app
        self.per_ip = per_ip
        self.per_account = per_ip if per_account is None else per_account
        self.buckets = buckets or TokenBuckets()
        self.shared = SharedBuckets(self.buckets) if shared else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/graphql"):
            await self.app(scope, receive, send)
            return
        services = services_of(scope)
        wait = await self.take_request(scope, services.reader if services is not None else None)
        if scope["type"] == "websocket":
            scope["aidmap.rate_limit"] = self
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

    async def take_request(self, scope: Scope, reader: Any) -> float:
        """Spend one request of the buckets of who sent it, identified once for the whole request
        (guards/identity.py). Without a partner key the address's bucket is asked first, before
        anything is looked up: a client past it costs the database nothing."""
        credentials = credentials_of(scope)
        if credentials.token and is_partner_key(credentials.token):
            return await self.take_for(await caller_of(scope), reader)
        wait = await self.take(ip_key(credentials), self.per_ip, reader)
        if wait == 0.0:
            account_id = (await caller_of(scope)).rate_account_id
            if account_id is not None:
                wait = await self.take(f"account:{account_id}", self.per_account, reader)
        return wait

    async def take_for(self, caller: Caller, reader: Any = None) -> float:
        """Spend one request of this caller's buckets (an HTTP request, a websocket handshake or an
        operation on the socket); 0 when allowed, else the seconds until they allow one."""
        limit = caller.rate_limit if caller.rate_limit is not None else self.per_ip
        return await self.take_operation(caller.rate_key, limit, caller.rate_account_id, reader)

    async def take_operation(self, key: str, limit: int, account_id: int | None, reader: Any = None) -> float:
        """Spend one request of the key's (or address's) bucket and, for a signed-in person, of the
        account's; 0 when allowed, else the seconds until both allow one. A refused address is not
        drawn from the account (nor the other way round: the address is asked first)."""
        wait = await self.take(key, limit, reader)
        if wait == 0.0 and account_id is not None:
            wait = await self.take(f"account:{account_id}", self.per_account, reader)
        return wait

    async def take(self, key: str, limit: int, reader: Any = None) -> float:
        """Spend one request of `key`; 0 when allowed, else the seconds until the next one is."""
        if self.shared is not None and reader is not None:
            return await self.shared.take(reader, key, limit)
        return self.buckets.take(key, limit)
