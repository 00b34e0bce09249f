"""What the process holds for every request: one `Services`, built once in the app's lifespan
(app.py create_app), kept in the ASGI scope's state under "services".

The guards in front of the app reach it with `services_of(scope)`; the GraphQL context carries the
same object (`Context.services`, with a shortcut per service: `ctx.reader`, `ctx.fanout`, ...), so
a request's context adds only what is its own: who is calling, its read sessions, its request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from aidmap.db.reader import Reader
    from aidmap.db.replica import ReadRouter
    from aidmap.db.shares import ClientShares
    from aidmap.events.access_log import AccessLog
    from aidmap.events.fanout import FanOut
    from aidmap.events.match_index import MatchIndex
    from aidmap.events.snapshots import Snapshots
    from aidmap.guards.identity import Identities
    from aidmap.guards.sockets import SocketGuard
    from aidmap.notify.sms import SmsQueue
    from aidmap.observability import Metrics
    from aidmap.resolvers.partners import PartnerKeys
    from aidmap.resolvers.persisted import PersistedQueries
    from aidmap.schema.fast.sharing import SharedResults

STATE_KEY = "services"


@dataclass(frozen=True)
class Services:
    # Writes, and reads that need the ORM (db/ says which way each kind of access goes).
    sessions: async_sessionmaker[AsyncSession]
    # ORM reads, a few at a time per request (Context.reads wraps it in db/engine.RequestSessions).
    read_sessions: async_sessionmaker[AsyncSession]
    # Hot hand-written reads on the primary's psycopg pool, and the router that sends them to a
    # fresh replica when there is one (db/replica.py).
    reader: Reader
    router: ReadRouter
    # Each client's share of those reads (db/shares.py).
    shares: ClientShares
    # Live updates: the subscribers, the in-process spatial index, the snapshots and shared results
    # of events (events/, schema/fast/sharing.py).
    fanout: FanOut
    match_index: MatchIndex
    snapshots: Snapshots
    shared_results: SharedResults
    # Who read which private field (events/access_log.py).
    access_log: AccessLog
    # Authentication (guards/identity.py) and the partner keys it looks up.
    identities: Identities
    partner_keys: PartnerKeys
    persisted_queries: PersistedQueries
    # Open sockets, closed when their credentials are revoked (guards/sockets.py).
    socket_guard: SocketGuard
    metrics: Metrics
    sms: SmsQueue


def services_of(scope: Any) -> Services | None:
    """The process's Services from an ASGI scope (None before the lifespan has run, as in a test
    that mounts one middleware alone)."""
    state = scope.get("state")
    return state.get(STATE_KEY) if state is not None else None
