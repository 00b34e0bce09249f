"""Per-request context: the process's services, who is calling, its read sessions and DataLoaders."""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from aidmap.db.engine import RequestSessions
from aidmap.db.reader import Reader
from aidmap.db.replica import ReadRouter, Reads
from aidmap.events.access_log import AccessLog
from aidmap.events.fanout import FanOut
from aidmap.events.match_index import MatchIndex
from aidmap.events.snapshots import Snapshots
from aidmap.guards.identity import Caller
from aidmap.models import Account, AdminArea, CollectionPoint, HelpRequest, Need, Offer, Pledge, Scope
from aidmap.models.need import ANONYMOUS, Principal
from aidmap.notify.sms import SmsQueue
from aidmap.observability import Metrics
from aidmap.resolvers import accounts, areas, attestations, collection_points, needs, offers, pledges
from aidmap.resolvers.accounts import Viewer
from aidmap.resolvers.partners import PartnerKey
from aidmap.schema.fast.sharing import SharedResults
from aidmap.services import Services
from aidmap.settings import Settings

Row = TypeVar("Row", Account, Need, Offer, Pledge)


def _by_id(
    sessions: async_sessionmaker[AsyncSession], fetch: Callable[..., Awaitable[list[Row]]], arg: str
) -> DataLoader[int, Row | None]:
    async def load(ids: list[int]) -> Sequence[Row | None]:
        async with sessions() as session:
            found = {row.id: row for row in await fetch(session=session, **{arg: list(ids)})}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    accounts: DataLoader[int, Account | None]
    needs: DataLoader[int, Need | None]
    offers: DataLoader[int, Offer | None]
    pledges_by_need: DataLoader[int, list[Pledge]]
    # A need's latest instant-help request (requestHelpNow), by need id.
    help_by_need: DataLoader[int, HelpRequest | None]
    areas: DataLoader[str, AdminArea | None]
    # A need's live attestation (token), and a trusted deployment's name, by id.
    attestations: DataLoader[int, str | None]
    deployments: DataLoader[int, str | None]
    # Collection points by id, and what each can still carry today.
    collection_points: DataLoader[int, CollectionPoint | None]
    units_left: DataLoader[int, int]

    @classmethod
    def build(cls, sessions: RequestSessions) -> Loaders:
        async def load_pledges(need_ids: list[int]) -> Sequence[list[Pledge]]:
            grouped: dict[int, list[Pledge]] = defaultdict(list)
            async with sessions() as session:
                for pledge in await pledges.for_needs(session=session, need_ids=list(need_ids)):
                    grouped[pledge.need_id].append(pledge)
            return [grouped[i] for i in need_ids]

        async def load_help(need_ids: list[int]) -> Sequence[HelpRequest | None]:
            query = (
                select(HelpRequest)
                .where(HelpRequest.need_id.in_(list(need_ids)))
                .ext(distinct_on(HelpRequest.need_id))
                .order_by(HelpRequest.need_id, HelpRequest.created_at.desc(), HelpRequest.id.desc())
            )
            async with sessions() as session:
                found = {r.need_id: r for r in (await session.execute(query)).scalars()}
            return [found.get(i) for i in need_ids]

        async def load_areas(codes: list[str]) -> Sequence[AdminArea | None]:
            async with sessions() as session:
                found = {a.code: a for a in await areas.get_many(session=session, codes=list(codes))}
            return [found.get(c) for c in codes]

        async def load_attestations(need_ids: list[int]) -> Sequence[str | None]:
            async with sessions() as session:
                found = await attestations.live_tokens(session=session, need_ids=list(need_ids))
            return [found.get(i) for i in need_ids]

        async def load_deployments(ids: list[int]) -> Sequence[str | None]:
            async with sessions() as session:
                rows = await session.execute(
                    text("SELECT id, name FROM trusted_deployments WHERE id = ANY(:ids)"), {"ids": list(ids)}
                )
                found = {r.id: r.name for r in rows}
            return [found.get(i) for i in ids]

        async def load_points(ids: list[int]) -> Sequence[CollectionPoint | None]:
            async with sessions() as session:
                found = await collection_points.get_many(session=session, ids=list(ids))
            return [found.get(i) for i in ids]

        async def load_units_left(ids: list[int]) -> Sequence[int]:
            async with sessions() as session:
                points = list((await collection_points.get_many(session=session, ids=list(ids))).values())
                left = await collection_points.units_left(session, points)
            return [left.get(i, 0) for i in ids]

        return cls(
            collection_points=DataLoader(load_fn=load_points),
            units_left=DataLoader(load_fn=load_units_left),
            areas=DataLoader(load_fn=load_areas),
            attestations=DataLoader(load_fn=load_attestations),
            deployments=DataLoader(load_fn=load_deployments),
            accounts=_by_id(sessions, accounts.get_many, "account_ids"),
            needs=_by_id(sessions, needs.get_many, "need_ids"),
            offers=_by_id(sessions, offers.get_many, "offer_ids"),
            pledges_by_need=DataLoader(load_fn=load_pledges),
            help_by_need=DataLoader(load_fn=load_help),
        )


@dataclass
class Context:
    """One request's (or one websocket's) context: the process's services, and what is its own."""

    # What the process holds for every request (aidmap/services.py); the properties below reach it.
    services: Services
    # Read sessions, a few at a time per request (db/engine.RequestSessions).
    reads: RequestSessions
    settings: Settings
    # Who sent the request: identified once, by guards/identity.py (for a websocket, replaced once
    # if its connection_init brings credentials). viewer, partner and the rest below read it.
    caller: Caller
    request: Any = None
    response: Any = None
    # Set by strawberry from a websocket's connection_init payload.
    connection_params: dict[str, Any] | None = None
    _visible_accounts: DataLoader[int, bool] | None = None

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.services.sessions

    @property
    def reader(self) -> Reader:
        return self.services.reader

    @property
    def router(self) -> ReadRouter:
        """The hot reads (searches, suggestions' candidates): a streaming replica while it is fresh
        (db/replica.py), else the primary."""
        return self.services.router

    @property
    def fanout(self) -> FanOut:
        return self.services.fanout

    @property
    def match_index(self) -> MatchIndex:
        return self.services.match_index

    @property
    def snapshots(self) -> Snapshots:
        return self.services.snapshots

    @property
    def shared_results(self) -> SharedResults:
        return self.services.shared_results

    @property
    def access_log(self) -> AccessLog:
        return self.services.access_log

    @property
    def metrics(self) -> Metrics:
        return self.services.metrics

    @property
    def sms(self) -> SmsQueue:
        """Text messages sent in the background, through the configured gateway (or the log)."""
        return self.services.sms

    @functools.cached_property
    def loaders(self) -> Loaders:
        # Built on first use: most requests (a search, a page of the fast path) load nothing by id,
        # and eight DataLoaders per request were 1.4% of a search's CPU.
        return Loaders.build(self.reads)

    @property
    def viewer(self) -> Viewer | None:
        """The signed-in person (by their own token, or the account a partner key acts for)."""
        return self.caller.viewer

    @property
    def partner(self) -> PartnerKey | None:
        """The partner app whose key sent the request (then `viewer`, if set, is a user it acts for)."""
        return self.caller.partner

    @property
    def token_hash(self) -> str | None:
        """The hash of the user's own bearer token that authenticated `viewer` (None under a partner
        key): what signOut revokes and changePassword keeps."""
        return self.caller.token_hash

    @property
    def token_rejected(self) -> bool:
        """A bearer token was sent but is unknown or expired: mutations say so instead of "sign in"."""
        return self.caller.token_rejected

    @property
    def hot_reader(self) -> Reads:
        """Where this request's hot reads go: the replica, or the primary for a viewer who just wrote;
        a few at a time for this client (db/shares.py)."""
        viewer = self.caller.viewer
        reads = self.services.router.for_account(viewer.account_id if viewer is not None else None)
        return self.services.shares.reads_for(self.caller.rate_key, reads)

    async def settle_revocation(self) -> None:
        """After committing a revocation: return once no replica read can undo it (db/replica.py)."""
        await self.services.router.settle()

    async def visible_account(self, account_id: int) -> Account | None:
        """The account, if this viewer may see it (accounts.visible_accounts), else None: the rule of
        every field that returns an Account. Batched: a page of offers asks once for all donors.
        Not cached, so a long-lived websocket sees the rule as it is now."""
        if self._visible_accounts is None:

            async def load(ids: list[int]) -> Sequence[bool]:
                found = [a for a in await self.loaders.accounts.load_many(ids) if a is not None]
                partner_id = self.partner.id if self.partner is not None else None
                seen = await accounts.visible_accounts(
                    reader=self.reader, viewer=self.viewer, partner_id=partner_id, accounts=found
                )
                return [i in seen for i in ids]

            self._visible_accounts = DataLoader(load_fn=load, cache=False)
        account = await self.loaders.accounts.load(account_id)
        if account is None or not await self._visible_accounts.load(account_id):
            return None
        return account

    @property
    def principal(self) -> Principal:
        """Who is looking, for the need privacy rules (models.need)."""
        person = self.viewer.principal if self.viewer is not None else ANONYMOUS
        if self.partner is None:
            return person
        return dataclasses.replace(
            person, partner_id=self.partner.id, partner_may_see_private=self.partner.allows(Scope.PRIVATE_READ)
        )

    def client_address(self) -> str | None:
        """The client's address, as the server sees it after trusted proxies (uvicorn rewrites the
        scope's client from X-Forwarded-For only for AIDMAP_FORWARDED_ALLOW_IPS)."""
        client = getattr(self.request, "client", None)
        return client.host if client is not None else None

    def bearer_token(self) -> str | None:
        """The bearer token this request (or this websocket's connection_init) carries, if any."""
        return self.caller.credentials.token

    async def close_websocket(self, code: int, reason: str) -> None:
        """Close this context's websocket (no-op over plain HTTP)."""
        if isinstance(self.request, WebSocket):
            await self.request.close(code=code, reason=reason)
