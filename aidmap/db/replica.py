"""The hot reads on a PostgreSQL streaming replica (AIDMAP_READ_DATABASE_URL), never staler than a bound.

What goes there: the public nearby searches (`needs`/`offers`, both paths), bearer-token look-ups and
the candidate rows of `suggestedNeeds`. Everything else, every write and anything inside a write
transaction, stays on the primary (the SQLAlchemy engine and the primary Reader).

Freshness. A probe (every `max_lag_s / 8`) notes the primary's WAL insert position, and when it was
asked, and the replica's replay position. Once the replica has replayed past a position the primary
had at time t, it holds every transaction committed before t, and it may serve until t + max_lag_s:
so what the replica answers is at most max_lag_s behind, in every process. When it falls further
behind, is down or is not a standby at all, the same reads go to the primary (and a read that fails
on it is retried there), so a replica never makes a read fail.

Revocations hold at once. signOut, signOutEverywhere, changePassword, grantRole and revokeRole call
`settle()` after their commit: it returns as soon as the replica has replayed the commit, and waits
max_lag_s at most. Past that, by the rule above, no process lets the replica answer anything older
than the revocation. So when the mutation answers, the revoked token (or role, or ward) works
nowhere, whether the replica is current, lagging or down. The cost: while the replica is down or
behind, those mutations take max_lag_s.

Read-your-writes: a viewer's own lists (myNeeds, node(id), ...) are read on the primary anyway; after
any mutation, this process sends that viewer's hot reads to the primary for max_lag_s too, so the
requester who just posted finds the need in a search. (With `--workers N` another worker may answer
the next request from a replica, up to max_lag_s behind: docs/operations.md.)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any, Protocol

import psycopg

from aidmap.db.reader import Reader
from aidmap.jobs.periodic import PeriodicJob

log = logging.getLogger(__name__)

# A replica request waits this long for a connection before going to the primary instead.
REPLICA_CONNECTION_WAIT_S = 0.25
# How long a process starting waits for its replica (then serves from the primary until it answers).
START_WAIT_S = 1.0


class Reads(Protocol):
    """What the hot read paths need: Reader.fetch's signature (a Reader, or the router)."""

    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]: ...


def parse_lsn(text: str | None) -> int | None:
    """A pg_lsn ('16/B374D848') as an integer, to compare positions of two servers."""
    if text is None:
        return None
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


# The insert position (not the write position): with synchronous_commit off a commit may be acknowledged
# before it is written, and a fence must lie beyond it.
_PRIMARY_POSITION = "SELECT pg_current_wal_insert_lsn()::text AS lsn"
_PAGE, _SEGMENT = 8192, 16 * 1024 * 1024
_SHORT_HEADER, _LONG_HEADER = 24, 40


def insert_position(text: str | None) -> int:
    """The primary's insert position as a replica's replay position would reach it: when the last record
    ends at a page boundary, the insert position points past the next page's header, where no record
    ends (an idle primary would otherwise look ahead of its replica for good)."""
    lsn = parse_lsn(text) or 0
    if lsn % _SEGMENT == _LONG_HEADER:
        return lsn - _LONG_HEADER
    if lsn % _PAGE == _SHORT_HEADER:
        return lsn - _SHORT_HEADER
    return lsn


# NULL on a server that is not a standby: then it is never fresh.
_REPLICA_POSITION = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS lsn"


class ReadRouter:
    """The hot reads: `fetch` as Reader's, on the replica while it is fresh, else on the primary."""

    def __init__(self, primary: Reader, replica: Reader | None, *, max_lag_s: float, metrics: Any = None) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_s = max_lag_s
        self.probe_interval_s = min(0.5, max_lag_s / 8)
        self._metrics = metrics
        # monotonic time until which the replica may serve (see the module's docstring).
        self._fresh_until = float("-inf")
        # (asked at, primary insert position) for the last max_lag_s or so.
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        # Accounts that wrote lately, and until when their hot reads go to the primary.
        self._wrote: dict[int, float] = {}
        self._job = PeriodicJob(
            name="aidmap-replica-probe", step=self.probe, interval_s=self.probe_interval_s, on_error=self._probe_failed
        )
        self._on_primary = _OnPrimary(self)
        # The last measured lag (s): how long ago the primary was where the replica has replayed to.
        self.lag_s: float | None = None

    @property
    def fresh(self) -> bool:
        return self.replica is not None and time.monotonic() < self._fresh_until

    async def start(self) -> None:
        if self.replica is None:
            return
        await self.replica.open(wait=False)
        # A moment for the first connection, so the first requests find it; down, it is probed on.
        deadline = time.monotonic() + START_WAIT_S
        while not self.fresh and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                await self.probe()
            if not self.fresh:
                await asyncio.sleep(0.05)
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
        if self.replica is not None:
            await self.replica.close()

    async def probe(self) -> None:
        """One measurement: may the replica serve, and how far behind is it."""
        assert self.replica is not None
        asked = time.monotonic()
        self._samples.append((asked, insert_position((await self.primary.fetch(_PRIMARY_POSITION, {}))[0].lsn)))
        while self._samples and self._samples[0][0] < asked - 2 * self.max_lag_s:
            self._samples.popleft()
        try:
            replayed = parse_lsn((await self.replica.fetch_once(_REPLICA_POSITION, {}))[0].lsn)
        except psycopg.Error:
            replayed = None
        # The newest moment the replica is known to hold everything committed before.
        caught_up = max((at for at, lsn in self._samples if replayed is not None and lsn <= replayed), default=None)
        now = time.monotonic()
        if caught_up is None:
            self._fresh_until = float("-inf")
            self.lag_s = None
        else:
            self._fresh_until = max(self._fresh_until, caught_up + self.max_lag_s)
            self.lag_s = max(0.0, asked - caught_up)
        if self._metrics is not None:
            self._metrics.replica_fresh.set(1 if now < self._fresh_until else 0)
            if self.lag_s is not None:
                self._metrics.replica_lag.set(self.lag_s)

    def _probe_failed(self, error: Exception) -> None:
        # The primary down: then nothing is fresh, and reads fail there anyway.
        self._fresh_until = float("-inf")
        log.warning("replica probe failed", exc_info=True)

    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        if self.replica is not None and self.fresh:
            try:
                rows = await self.replica.fetch_once(sql, params, binary=binary)
            except psycopg.Error as error:
                # Down, restarting, or a query cancelled by a recovery conflict: the primary answers.
                if isinstance(error, psycopg.OperationalError):
                    self._fresh_until = float("-inf")
                log.warning("replica read failed (%s); reading the primary", type(error).__name__)
            else:
                self._count("replica")
                return rows
        self._count("primary")
        return await self.primary.fetch(sql, params, binary=binary)

    def _count(self, server: str) -> None:
        if self._metrics is not None:
            self._metrics.hot_reads.labels(server).inc()

    def wrote(self, account_id: int) -> None:
        """This account has just written: its hot reads go to the primary for max_lag_s."""
        if self.replica is None:
            return
        now = time.monotonic()
        if len(self._wrote) > 10_000:
            self._wrote = {a: until for a, until in self._wrote.items() if until > now}
        self._wrote[account_id] = now + self.max_lag_s

    def for_account(self, account_id: int | None) -> Reads:
        """Where this viewer's hot reads go: the primary for a while after its own writes, else here."""
        if account_id is not None and self._wrote.get(account_id, float("-inf")) > time.monotonic():
            return self._on_primary
        return self

    async def settle(self) -> None:
        """After a commit that takes something away (a token, a role): return once no process can read
        the state before it from the replica (the module's docstring)."""
        if self.replica is None:
            return
        started = time.monotonic()
        target = insert_position((await self.primary.fetch(_PRIMARY_POSITION, {}))[0].lsn)
        # A little more than max_lag_s: the fresh-until bound is measured from when a probe was asked.
        deadline = started + self.max_lag_s + 0.01
        pause = 0.002
        while (left := deadline - time.monotonic()) > 0:
            try:
                replayed = parse_lsn((await self.replica.fetch_once(_REPLICA_POSITION, {}))[0].lsn)
            except psycopg.Error:
                replayed = None
            if replayed is not None and replayed >= target:
                return
            await asyncio.sleep(min(pause, max(left, 0)))
            pause = min(pause * 2, 0.05)
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class _OnPrimary:
    """The primary, counted as such: the hot reads of a viewer who just wrote."""

    def __init__(self, router: ReadRouter) -> None:
        self._router = router

    async def fetch(self, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[Any]:
        self._router._count("primary")
        return await self._router.primary.fetch(sql, params, binary=binary)
