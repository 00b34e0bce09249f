"""create_app(): the Starlette application, its routes and its lifespan (engine, sessions)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypedDict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from aidmap.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from aidmap.db.reader import Reader
from aidmap.events.access_log import AccessLog
from aidmap.events.fanout import FanOut
from aidmap.events.listener import Listener
from aidmap.events.match_index import MatchIndex
from aidmap.events.snapshots import Snapshots
from aidmap.events.store import latest_seq
from aidmap.jobs.expiry import expiry_job
from aidmap.jobs.help_requests import help_cascade_job
from aidmap.resolvers.accounts import viewer_for_token
from aidmap.schema import schema
from aidmap.schema.context import Context, Loaders
from aidmap.schema.live_socket import AidmapTransportWSHandler
from aidmap.schema.sharing import SharedResults
from aidmap.settings import Settings

log = logging.getLogger(__name__)


class State(TypedDict):
    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]
    reader: Reader
    fanout: FanOut
    match_index: MatchIndex
    snapshots: Snapshots
    shared_results: SharedResults
    access_log: AccessLog


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, '' when the header is malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class AidmapGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = AidmapTransportWSHandler

    def __init__(self, settings: Settings) -> None:
        # Strawberry's own IDE page loads GraphiQL from a CDN; aidmap fetches nothing at run time.
        super().__init__(schema, graphql_ide=None)
        self.settings = settings

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        sessions: async_sessionmaker[AsyncSession] = request.state.sessions
        reads: async_sessionmaker[AsyncSession] = request.state.reads
        reader: Reader = request.state.reader
        fanout: FanOut = request.state.fanout
        match_index: MatchIndex = request.state.match_index
        snapshots: Snapshots = request.state.snapshots
        shared_results: SharedResults = request.state.shared_results
        access_log: AccessLog = request.state.access_log
        token = bearer_token(request.headers.get("authorization"))
        viewer = await viewer_for_token(reader=reader, token=token) if token else None
        return Context(
            sessions=sessions,
            reads=reads,
            reader=reader,
            fanout=fanout,
            match_index=match_index,
            snapshots=snapshots,
            shared_results=shared_results,
            access_log=access_log,
            settings=self.settings,
            viewer=viewer,
            token_rejected=token is not None and viewer is None,
            loaders=Loaders.build(reads),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | None:
        """Authenticate a websocket from connection_init {"authorization": "Bearer <token>"}."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        token = bearer_token(header) if isinstance(header, str) else None
        if token is not None:
            context.viewer = await viewer_for_token(reader=context.reader, token=token) if token else None
            if context.viewer is None:
                # Closes with 4403: a client with a bad token learns it now, not on its first subscription.
                raise ConnectionRejectionError({"message": "The token is not valid or has expired."})
        return UNSET


def create_app(settings: Settings, *, database_url: str) -> Starlette:

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        engine = make_engine(database_url, pool_size=settings.db_pool_size)
        reader = Reader(database_url, max_size=settings.db_pool_size)
        await reader.open()
        fanout = FanOut(queue_limit=settings.subscriber_queue_limit)
        # Order matters: note the last event, load the index (a snapshot at least that new), then stream
        # from that event on; replayed events re-apply idempotently, and none falls in between.
        fanout.last_seq = await latest_seq(reader)
        match_index = MatchIndex()
        await asyncio.to_thread(match_index.load, database_url)
        fanout.sinks.append(match_index.apply)
        snapshots = app.state.snapshots = Snapshots(reader)
        shared_results = app.state.shared_results = SharedResults(enabled=settings.share_event_results)
        access_log = app.state.access_log = AccessLog(reader)
        access_log.start()
        listener = Listener(url=database_url, reader=reader, fanout=fanout, poll_interval=settings.event_poll_seconds)
        await listener.start()
        app.state.listener = listener
        sessions = make_sessionmaker(engine)
        expiry = expiry_job(sessions=sessions, interval_s=settings.expiry_interval_seconds)
        expiry.start()
        cascade = help_cascade_job(sessions=sessions, timeout_s=settings.help_timeout_seconds)
        cascade.start()
        try:
            yield {
                "sessions": sessions,
                "reads": make_read_sessionmaker(engine),
                "reader": reader,
                "fanout": fanout,
                "match_index": match_index,
                "snapshots": snapshots,
                "shared_results": shared_results,
                "access_log": access_log,
            }
        finally:
            await access_log.stop()
            await cascade.stop()
            await expiry.stop()
            await listener.stop()
            await reader.close()
            await engine.dispose()

    async def health(request: Request) -> JSONResponse:
        async with request.state.reads() as session:
            await session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    graphql = AidmapGraphQL(settings)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
