"""create_app(): the Starlette application, its routes and its lifespan (engine, sessions)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, TypedDict

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from aidmap import i18n
from aidmap.db.engine import RequestSessions, make_engine, make_read_sessionmaker, make_sessionmaker
from aidmap.db.migrate import head_revision
from aidmap.db.reader import Reader
from aidmap.db.replica import REPLICA_CONNECTION_WAIT_S, ReadRouter
from aidmap.db.shares import ClientShares
from aidmap.events.access_log import AccessLog
from aidmap.events.fanout import FanOut
from aidmap.events.listener import Listener
from aidmap.events.match_index import MatchIndex
from aidmap.events.snapshots import Snapshots
from aidmap.events.store import latest_seq
from aidmap.fairness.reach import max_reach_m, settings_reach
from aidmap.guards.body_limit import BodyLimitMiddleware
from aidmap.guards.headers import SecurityHeadersMiddleware
from aidmap.guards.identity import TOKEN_REJECTED, Caller, Credentials, Identities, caller_of
from aidmap.guards.origins import OriginMiddleware
from aidmap.guards.rate_limit import RateLimitMiddleware
from aidmap.guards.sockets import SocketGuard
from aidmap.jobs.expiry import expiry_job
from aidmap.jobs.help_requests import help_cascade_job
from aidmap.jobs.matching import matching_job
from aidmap.jobs.waiting import waiting_job
from aidmap.jobs.webhooks import delivery_policy, webhook_job
from aidmap.notify import dispatch
from aidmap.notify.sms import queue_for, sender_for
from aidmap.observability import Metrics, RequestIdMiddleware
from aidmap.resolvers import attestations
from aidmap.resolvers.partners import PartnerKey, PartnerKeys
from aidmap.resolvers.persisted import MAX_QUERY_CHARS, PersistedQueries, sha256_of
from aidmap.schema import (
    UNAVAILABLE_MESSAGE,
    AidmapSchema,
    ServiceUnavailable,
    build_schema,
    checked_document,
    database_unavailable,
)
from aidmap.schema.context import Context
from aidmap.schema.fast.compiled import CompiledDocuments
from aidmap.schema.fast.http_route import FastGraphQLRoute
from aidmap.schema.fast.live_batch import LiveBatches
from aidmap.schema.fast.live_socket import AidmapTransportWSHandler
from aidmap.schema.fast.sharing import SharedResults
from aidmap.schema.limits import Limits
from aidmap.services import Services
from aidmap.settings import FRONTEND_DIR, Settings

log = logging.getLogger(__name__)


class State(TypedDict):
    """The lifespan's state, in every request's scope: the process's one Services (aidmap/services.py)."""

    services: Services


GRAPHQL_RESPONSE = "application/graphql-response+json"


def wants_graphql_response(accept: str | None) -> bool:
    """Did the client ask for application/graphql-response+json (before application/json)?"""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == GRAPHQL_RESPONSE:
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def _pq_error(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


async def persisted_query(
    store: PersistedQueries, partner: PartnerKey | None, data: GraphQLRequestData, schema: AidmapSchema, client: str
) -> ExecutionResult | None:
    """Apollo's automatic persisted queries: fill in the query from its hash, or remember a new one.
    A partner with registered_queries_only may send only hashes registered for it. None: go on."""
    extension = (data.extensions or {}).get("persistedQuery")
    if partner is not None and partner.registered_queries_only:
        digest = extension.get("sha256Hash") if isinstance(extension, dict) else None
        if not isinstance(digest, str) or not await store.registered_for(partner.id, digest):
            return _pq_error(
                "This API key accepts only its registered queries, sent by hash.", "PERSISTED_QUERY_NOT_REGISTERED"
            )
    if not isinstance(extension, dict):
        return None
    digest = extension.get("sha256Hash")
    if extension.get("version") != 1 or not isinstance(digest, str) or len(digest) != 64:
        return _pq_error("persistedQuery needs version 1 and a sha256Hash.", "PERSISTED_QUERY_INVALID")
    if data.query:
        if sha256_of(data.query) != digest:
            return _pq_error("provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH")
        # Stored only once it is known to be a document worth running: small, parsed, within every
        # limit (cost too, with these variables) and valid; else it runs, and fails, as any query
        # would, and nothing is kept.
        document = checked_document(schema, data.query) if len(data.query) <= MAX_QUERY_CHARS else None
        if document is not None and not schema.checks.refusal_for(
            document, data.operation_name, data.variables, partner
        ):
            await store.put(digest, data.query, client)
        return None
    known = await store.get(digest)
    if known is None:
        return _pq_error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    data.query = known
    return None


class AidmapGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = AidmapTransportWSHandler

    def __init__(self, settings: Settings) -> None:
        limits = Limits(
            dev=settings.dev,
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_query_tokens,
            max_cost=settings.max_query_cost,
            max_fragment_spreads=settings.max_fragment_spreads,
        )
        super().__init__(
            build_schema(limits),
            # In dev mode GET /graphql from a browser shows GraphiQL: aidmap's own vendored copy
            # (render_graphql_ide), never strawberry's page, which loads it from a CDN.
            graphql_ide="graphiql" if settings.dev else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_seconds),
            # Origins are checked in front of the app for HTTP and websockets alike (guards/origins.py).
            allowed_origins=("*",),
        )
        self.max_subscriptions_per_connection = settings.max_subscriptions_per_connection
        assert isinstance(self.schema, AidmapSchema)
        self.compiled = CompiledDocuments(self.schema) if settings.compiled_queries else None
        self.settings = settings

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            request = Request(scope=scope, receive=receive)
            response = await self.run(request)
        except HTTPException as refused:
            # Refusals before GraphQL runs (bad key, bad JSON, wrong method) are GraphQL-shaped too.
            error: dict[str, Any] = {"message": refused.reason}
            if refused.status_code == 503:
                error["extensions"] = {"code": "UNAVAILABLE", "retryable": True}
            response = JSONResponse({"errors": [error]}, status_code=refused.status_code)
            if refused.status_code == 405:
                response.headers["allow"] = "GET, POST"
            if refused.status_code == 503:
                response.headers["retry-after"] = "2"
        await response(scope, receive, send)

    async def execute_single(  # noqa: PLR0917
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> Any:
        schema = self.schema
        assert isinstance(schema, AidmapSchema)
        refused = await persisted_query(
            request.state.services.persisted_queries, context.partner, request_data, schema, context.caller.quota_client
        )
        if refused is not None:
            return refused
        if self.compiled is not None:
            # A plain search document seen before: variables, checks, the search and the rows' JSON only.
            answered = await self.compiled.execute(
                request_data.query, request_data.operation_name, request_data.variables, context
            )
            if answered is not None:
                return answered
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as refused:
            # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed.
            if request_adapter.method == "GET" and refused.status_code == 400 and "mutation" in refused.reason.lower():
                raise HTTPException(405, "Mutations need POST.") from None
            raise

    async def process_result(self, request: Any, result: Any) -> Any:
        response = await super().process_result(request, result)
        sub_response = request.scope.get("aidmap.sub_response")
        if sub_response is not None and wants_graphql_response(request.headers.get("accept")):
            # application/graphql-response+json: a request that failed before execution (it did not
            # parse or validate, or exceeded a limit) is a 400; anything that ran is a 200.
            sub_response.aidmap_media_type = GRAPHQL_RESPONSE
            if result.errors and result.data is None:
                sub_response.status_code = 400
                if isinstance(response, dict):
                    response.pop("data", None)  # a request error has no data entry at all
        return response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = getattr(sub_response, "aidmap_media_type", None)
        if media_type is not None:
            response.headers["content-type"] = f"{media_type}; charset=utf-8"
        return response

    def encode_json(self, data: object) -> str | bytes:
        # orjson: ~6 us for a 20-need page where json.dumps takes ~100 us (3% of the request).
        # Text, not bytes: websocket messages are encoded here too, and must be text frames.
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # something orjson does not know (an int beyond 64 bits...): the standard way
            return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        # Bytes that are not UTF-8 are a malformed request (400), not a server error.
        try:
            return super().decode_json(data)
        except (UnicodeDecodeError, RecursionError) as error:
            raise json.JSONDecodeError(f"Not UTF-8 JSON: {type(error).__name__}", "", 0) from None

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET with only a persisted-query hash is an operation, not a browser asking for GraphiQL.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse((FRONTEND_DIR / "explorer.html").read_text(encoding="utf-8"))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        try:
            return await self._context(request, response)
        except HTTPException:
            raise
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("database unavailable while authenticating a request")
            if isinstance(request, WebSocket):
                # A websocket is told at connection_init, with the close code for "try again later"
                # (1013), instead of a failed handshake and a traceback in the log.
                request.scope["aidmap.unavailable"] = True
                return await self._context(request, response, credentials=False)
            raise HTTPException(503, i18n.translate(UNAVAILABLE_MESSAGE, "UNAVAILABLE")) from None

    async def _context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None, *, credentials: bool = True
    ) -> Context:
        services: Services = request.state.services
        reads = RequestSessions(services.read_sessions)
        if response is not None and not isinstance(request, WebSocket):
            request.scope["aidmap.sub_response"] = response  # process_result sets the status and media type
        # Error messages follow Accept-Language (the context var lives as long as this request's task).
        i18n.language.set(i18n.pick(request.headers.get("accept-language")))
        # Who is asking: identified once per request (guards/identity.py), by the rate limiter already.
        caller = await caller_of(request.scope)
        if not credentials:
            caller = Caller.anonymous(caller.credentials)
        elif caller.failure is not None:
            raise caller.failure  # get_context: 503 (a websocket: 1013 at connection_init)
        elif caller.refusal is not None:
            if not isinstance(request, WebSocket):
                raise HTTPException(caller.refusal.status, caller.refusal.reason)
            # A websocket is refused at connection_init (4403), as with the key in its payload,
            # unless that payload brings credentials of its own (on_ws_connect).
            request.scope["aidmap.refused"] = caller.refusal.reason
        return Context(
            services=services, reads=reads, settings=self.settings, caller=caller, request=request, response=response
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | None:
        """Authenticate a websocket from connection_init {"authorization": "Bearer <token or key>"}
        (a partner key may add {"actAs": "<account id>"}), else from the upgrade request's own
        Authorization (and Aidmap-Act-As) headers, which _context has already read. Whichever way
        the credentials came, the same rules hold for them below."""
        if context.request is not None and context.request.scope.get("aidmap.unavailable"):
            raise ServiceUnavailable  # the upgrade header's credentials could not be checked
        upgrade = context.caller
        payload = Credentials.of_connection_init(context.connection_params or {}, upgrade.credentials)
        if payload is not None:
            # Credentials in connection_init replace the upgrade request's: nothing of those stays
            # (a header key's partner beside a payload token's viewer would be neither).
            identities: Identities = context.request.state.services.identities
            caller = await identities.identify(payload)
            if caller.failure is not None:
                raise caller.failure  # handle_connection_init: 1013, try again later
            if caller.refusal is not None:
                raise ConnectionRejectionError({"message": caller.refusal.reason})
            if caller.viewer is None and caller.partner is None:
                # Closes with 4403: a client with a bad token learns it now, not on its first subscription.
                raise ConnectionRejectionError({"message": TOKEN_REJECTED})
            context.caller = caller
        elif (
            refused := context.request.scope.get("aidmap.refused") if context.request is not None else None
        ) is not None:
            raise ConnectionRejectionError({"message": refused})
        elif context.token_rejected:
            # A bad token in the upgrade request's header: the same 4403 as one in connection_init.
            raise ConnectionRejectionError({"message": TOKEN_REJECTED})
        if context.partner is not None and context.partner.registered_queries_only:
            # Its documents are held to registered hashes over HTTP; a websocket would run any.
            raise ConnectionRejectionError(
                {"message": "This API key accepts only its registered queries, sent by hash over HTTP."}
            )
        if isinstance(context.request, WebSocket):
            # Revoked or expired later, the credentials close this socket (guards/sockets.py).
            context.request.state.services.socket_guard.register(
                context.request,
                token_hash=context.token_hash,
                partner_id=context.partner.id if context.partner is not None else None,
                viewer=context.viewer,
            )
            if context.viewer is not None:
                await context.request.state.services.socket_guard.mark_present(context.viewer.account_id)
        return UNSET


def create_app(settings: Settings, *, database_url: str) -> Starlette:
    i18n.load()  # the message catalogs, read once now: a broken one stops start-up, not a request

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        engine = make_engine(database_url, pool_size=settings.db_pool_size)
        reader = Reader(database_url, max_size=settings.db_pool_size)
        await reader.open()
        replica = (
            Reader(read_url, max_size=settings.db_pool_size, connection_wait_s=REPLICA_CONNECTION_WAIT_S)
            if (read_url := settings.read_database_url)
            else None
        )
        router = ReadRouter(reader, replica, max_lag_s=settings.read_max_lag_seconds, metrics=metrics)
        await router.start()
        app.state.router = router
        fanout = FanOut(queue_limit=settings.subscriber_queue_limit)
        # Order matters: note the last event, load the index (a snapshot at least that new), then stream
        # from that event on; replayed events re-apply idempotently, and none falls in between.
        fanout.last_seq = await latest_seq(reader)
        match_index = MatchIndex()
        await asyncio.to_thread(match_index.load, database_url)
        fanout.sinks.append(match_index.apply)
        # Everything loaded so far (code, schema, the index's rows) lives as long as the process:
        # move it out of the collector's sight. Without this every full collection walks the
        # whole index, a ~100 ms pause every few seconds under load at 100k needs (the p99).
        gc.collect()
        gc.freeze()
        snapshots = app.state.snapshots = Snapshots(reader)
        shared_results = app.state.shared_results = SharedResults(enabled=settings.share_event_results)
        live_batches = app.state.live_batches = LiveBatches(snapshots)
        if settings.live_batch:
            fanout.batch = live_batches.submit
        access_log = app.state.access_log = AccessLog(reader)
        access_log.start()
        listener = Listener(url=database_url, reader=reader, fanout=fanout, poll_interval=settings.event_poll_seconds)
        await listener.start()
        app.state.listener = listener
        sessions = make_sessionmaker(engine)
        # A signing key from the start, so a new deployment's JWKS is never empty (partners trust it first).
        async with sessions() as session, session.begin():
            await attestations.ensure_key(session, settings.phone_hash_key())
        expiry = expiry_job(sessions=sessions, interval_s=settings.expiry_interval_seconds)
        expiry.start()
        cascade = help_cascade_job(
            sessions=sessions, timeout_s=settings.help_timeout_seconds, max_reach_m=max_reach_m(settings)
        )
        cascade.start()
        waiting = waiting_job(
            sessions=sessions, reach=settings_reach(settings), interval_s=settings.waiting_interval_seconds
        )
        waiting.start()
        matching = matching_job(sessions=sessions, settings=settings)
        if matching is not None:
            matching.start()
        webhooks = webhook_job(
            sessions=sessions,
            interval_s=settings.webhook_interval_seconds,
            policy=delivery_policy(settings),
            on_failure=metrics.webhook_failures.inc,
            wake=listener.wake_on_events(),
        )
        webhooks.start()
        socket_guard = SocketGuard(reader, interval_s=settings.socket_recheck_seconds)
        socket_guard.start()
        sms = queue_for(settings, on_outcome=lambda outcome: metrics.sms_messages.labels(outcome).inc())
        sms.start()
        notifications = dispatch.notify_job(
            sessions=sessions,
            sms=sender_for(settings),
            policy=dispatch.policy_for(settings),
            interval_s=settings.notify_interval_seconds,
            outcomes=dispatch.Outcomes(
                count=lambda channel, outcome: metrics.notifications.labels(channel, outcome).inc(),
                budget_used=metrics.sms_budget_used.set,
            ),
            wake=listener.wake_on_events(),
        )
        notifications.start()
        partner_keys = PartnerKeys(reader)
        try:
            services = Services(
                sessions=sessions,
                read_sessions=make_read_sessionmaker(engine),
                reader=reader,
                router=router,
                shares=ClientShares(settings.hot_reads_per_client),
                fanout=fanout,
                match_index=match_index,
                snapshots=snapshots,
                shared_results=shared_results,
                access_log=access_log,
                identities=Identities(keys=partner_keys, reader=reader, router=router),
                partner_keys=partner_keys,
                persisted_queries=PersistedQueries(
                    reader,
                    per_client_per_day=settings.persisted_queries_per_client_per_day,
                    max_automatic=settings.max_persisted_queries,
                ),
                socket_guard=socket_guard,
                metrics=metrics,
                sms=sms,
            )
            yield {"services": services}
        finally:
            await notifications.stop()
            await sms.stop()
            await socket_guard.stop()
            await access_log.stop()
            await webhooks.stop()
            if matching is not None:
                await matching.stop()
            await waiting.stop()
            await cascade.stop()
            await expiry.stop()
            await listener.stop()
            await router.stop()
            await live_batches.stop()
            await reader.close()
            await engine.dispose()

    metrics = Metrics()

    async def health(request: Request) -> JSONResponse:
        """The process is up (a load balancer's liveness check: no database needed)."""
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> JSONResponse:
        """Ready for traffic: database reachable, migrations current, event listener connected."""
        problems = []
        try:
            rows = await request.state.services.reader.fetch("SELECT version_num FROM alembic_version", {})
            if not rows or rows[0].version_num != head_revision():
                problems.append("migrations are not current: run `aidmap db upgrade`")
        except Exception:  # any failure to ask is a reason not to take traffic
            problems.append("database unreachable")
        if not request.app.state.listener.connected.is_set():
            problems.append("event listener not connected")
        status = 503 if problems else 200
        return JSONResponse(
            {"status": "ready" if not problems else "not ready", "problems": problems}, status_code=status
        )

    async def metrics_page(request: Request) -> Response:
        fanout: FanOut = request.state.services.fanout
        metrics.subscriptions.set(fanout.open_subscriptions())
        batches: LiveBatches = request.app.state.live_batches
        metrics.live_batch.labels("direct").set(batches.direct_sends)
        metrics.live_batch.labels("pushed").set(batches.pushed)
        try:
            metrics.event_lag.set(max(0, await latest_seq(request.state.services.reader) - fanout.last_seq))
        except Exception:  # the page must answer even while the database is down
            log.warning("metrics: could not read the latest event")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def cached_json(request: Request, body: dict[str, Any], max_age: int) -> Response:
        """Public JSON partners cache: Cache-Control and an ETag (If-None-Match answers 304)."""
        payload = orjson.dumps(body)
        etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
        headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag, "Access-Control-Allow-Origin": "*"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(payload, media_type="application/json", headers=headers)

    async def jwks(request: Request) -> Response:
        """The public keys attestations are signed with: the signer and keys rotated out within their
        grace period (resolvers/attestations.py). Never a private key: only public_jwk is read."""
        rows = await request.state.services.reader.fetch(attestations.JWKS_SQL, {})
        return await cached_json(request, {"keys": [r.public_jwk for r in rows]}, max_age=3600)

    async def attestation_status(request: Request) -> Response:
        """Which unexpired attestations are revoked (expired ones fail on their own)."""
        rows = await request.state.services.reader.fetch(attestations.STATUS_SQL, {})
        body = {"issuer": settings.issuer_url(), "revoked": [r.jti for r in rows]}
        return await cached_json(request, body, max_age=300)

    async def page_config(request: Request) -> JSONResponse:
        return JSONResponse({"tileUrl": settings.tile_url or None})

    graphql = AidmapGraphQL(settings)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", health),
        Route("/readyz", ready),
        Route("/metrics", metrics_page),
        Route("/config.json", page_config),
        Route(attestations.JWKS_PATH, jwks),
        Route(attestations.STATUS_PATH, attestation_status),
        # The reference page: last, so it never shadows the API.
        Mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="page"),
    ]
    middleware = [
        # Outermost first: a request id for every log line, refuse over-limit clients, then check origins.
        Middleware(RequestIdMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_seconds),
        Middleware(RateLimitMiddleware, per_ip=settings.rate_limit_per_ip, per_account=settings.rate_limit_per_account),
        Middleware(OriginMiddleware, allowed=settings.allowed_origins),
        # Innermost: compiled documents answered in plain ASGI, behind every guard above (schema/fast/http_route.py).
        Middleware(FastGraphQLRoute, graphql=graphql),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
