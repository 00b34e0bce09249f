"""A leaner graphql-transport-ws path for the area subscriptions (needsNearby, offersNearby).

Strawberry runs every event of every subscriber through its full operation pipeline
(extension hooks, result handling): about 0.4 ms of CPU per delivery in
bench/fanout.py, which is what limits how many subscribers one process can serve.
For a subscription document this module can plan (schema/fast/sharing.py), the operation is
validated and its arguments coerced once, by graphql-core as usual; then each event is
executed with the shared executor (one execution per distinct selection) and sent
directly. Anything else (other subscriptions, documents with errors, fragments at the
top of the selection) takes strawberry's own path unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, OperationType
from graphql.execution import execute_subscription_event
from graphql.execution.values import get_argument_values
from graphql.pyutils import is_awaitable
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation

from aidmap.problems import UserInputError
from aidmap.schema import AidmapSchema, ServiceUnavailable, checked_document, database_unavailable, should_mask_error
from aidmap.schema.context import Context
from aidmap.schema.fast.live_batch import DirectDelivery
from aidmap.schema.fast.sharing import MessageTemplate, _plan
from aidmap.schema.fast.ws_frames import SEND_TEXT_EXTENSION
from aidmap.schema.inputs import GeoPointInput
from aidmap.schema.subscription import need_events, offer_events

log = logging.getLogger(__name__)

STREAMS: dict[str, Callable[..., AsyncGenerator[Any, None]]] = {
    "needsNearby": need_events,
    "offersNearby": offer_events,
}


def _client_errors(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    # The same masking as every other response.
    return [
        GraphQLError("Unexpected error.", path=e.path).formatted if should_mask_error(e) else e.formatted
        for e in errors
    ]


# Operations refused in a row for the rate limit before the socket is closed (4429): a client
# that keeps sending after being told to wait is abusing, not unlucky.
REFUSALS_BEFORE_CLOSE = 20


class AidmapTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    lean_operations = 0  # operations that took this path (a test checks the path is really used)
    refused_in_a_row = 0

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except Exception as error:
            if not isinstance(error, ServiceUnavailable) and not database_unavailable(error):
                raise
            # The credentials cannot be checked now: "try again later" (1013), not a bad-token 4403
            # that would make a client drop its token, nor an unhandled error (1011).
            log.warning("database unavailable while authenticating a websocket")
            await self.websocket.close(code=1013, reason="Service unavailable for a moment; retry.")

    async def handle_subscribe(self, message: Any) -> None:
        # Every operation (query, mutation, subscription) counts against the same bucket as an HTTP
        # request of the same partner key or address; the handshake spent one already.
        if self.connection_acknowledged and message.get("id") not in self.operations:
            wait = await self._rate_limit_wait()
            if wait > 0:
                self.refused_in_a_row += 1
                if self.refused_in_a_row >= REFUSALS_BEFORE_CLOSE:
                    await self.websocket.close(code=4429, reason="Too many requests")
                    return
                retry_after = max(1, math.ceil(wait))
                error = GraphQLError(
                    f"Too many requests; retry after {retry_after} s.", extensions={"code": "RATE_LIMITED"}
                )
                await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
                return
            self.refused_in_a_row = 0
        await super().handle_subscribe(message)

    async def _rate_limit_wait(self) -> float:
        request = self.context.request
        limiter = request.scope.get("aidmap.rate_limit") if request is not None else None
        if limiter is None:
            return 0.0
        # The socket's Caller (connection_init's credentials, else the handshake's): the same buckets
        # as an HTTP request with the same credentials.
        wait: float = await limiter.take_for(self.context.caller, self.context.reader)
        return wait

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        prepared = self._prepare(operation)
        if prepared is None:
            await super().run_operation(operation)
            return
        AidmapTransportWSHandler.lean_operations += 1
        executor, stream = prepared
        try:
            async with contextlib.aclosing(stream):
                async for payload in stream:
                    event_executor = executor.build_per_event_executor(payload)
                    if await self._send_shared(operation, event_executor, payload):
                        continue
                    result = execute_subscription_event(event_executor)
                    if is_awaitable(result):
                        result = await result
                    if result.errors:
                        payload_json: dict[str, Any] = {"data": result.data, "errors": _client_errors(result.errors)}
                        await operation.send_operation_message(
                            {"id": operation.id, "type": "next", "payload": payload_json}
                        )  # type: ignore[typeddict-item]
                    else:
                        await operation.send_next(result)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except (WebSocketDisconnect, WebSocketDisconnected):
            return  # the client went away: the stream is closed, the subscription removed
        except UserInputError as error:
            formatted = GraphQLError(str(error), extensions={"code": error.code.value, "field": error.field}).formatted
            await operation.send_operation_message({"id": operation.id, "type": "error", "payload": [formatted]})
        except Exception as error:  # pragma: no cover - mirrors strawberry's own handler
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    async def _send_shared(self, operation: Operation[Context, None], event_executor: Any, payload: Any) -> bool:
        """Send the event from a message encoded once for everyone who asked the same; False if it cannot be shared."""
        shared_key = event_executor.shared_key()
        if shared_key is None or operation.completed:
            return False
        cache, plan, key = shared_key
        if key in cache.encoded:
            template = cache.encoded[key]
        else:
            result = execute_subscription_event(event_executor)
            if is_awaitable(result):
                result = await result
            template = None if result.errors else MessageTemplate.of(plan, result.data)
            cache.encoded[key] = template
        if template is None:
            return False
        message = template.fill(orjson.dumps(operation.id), orjson.dumps(payload.distance_meters))
        await self.websocket.ws.send_text(message.decode())  # type: ignore[attr-defined]
        return True

    def _prepare(self, operation: Operation[Context, None]) -> tuple[Any, AsyncGenerator[Any, None]] | None:
        schema = self.schema
        assert isinstance(schema, AidmapSchema)
        document = checked_document(schema, operation.query)
        if document is None:
            return None
        executor = schema.execution_context_class.build(
            schema._schema,
            document,
            context_value=self.context,
            raw_variable_values=operation.variables,
            operation_name=operation.operation_name,
        )
        if isinstance(executor, list) or executor.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        if schema.checks.refusal_for(document, operation.operation_name, operation.variables, self.context.partner):
            return None  # strawberry's path refuses it, with the same checks, in the usual shape
        if _plan(executor.operation, bool(executor.fragments)) is None:
            return None
        root = executor.operation.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        subscription_type = schema._schema.subscription_type
        assert subscription_type is not None
        field = subscription_type.fields[root.name.value]
        try:
            args = get_argument_values(field, root, executor.variable_values)
        except GraphQLError:
            return None
        near = args["near"]
        if isinstance(near, dict):  # graphql-core coerces input objects to dicts; the streams take GeoPointInput
            near = GeoPointInput(lat=near["lat"], lon=near["lon"])
        extra: dict[str, Any] = {}
        if root.name.value == "needsNearby":
            extra["direct"] = self._direct(operation, executor, near)
        stream = STREAMS[root.name.value](
            self.context, near, args["radiusMeters"], args.get("categories"), args.get("after"), **extra
        )
        return executor, stream

    def _direct(self, operation: Operation[Context, None], executor: Any, near: GeoPointInput) -> DirectDelivery | None:
        """What lets the live batch (schema/fast/live_batch.py) send this operation's events itself, if it may."""
        send_text = self.websocket.ws.scope.get("extensions", {}).get(SEND_TEXT_EXTENSION)  # type: ignore[attr-defined]
        planned = executor.plan_key()
        if send_text is None or planned is None:
            return None
        cache, plan, fixed = planned
        if not plan.viewer_independent:
            return None  # fields that depend on who asks: executed for each subscriber
        return DirectDelivery(
            ctx=self.context, near=near, executor=executor, operation=operation,
            operation_id=orjson.dumps(operation.id), send_text=send_text, cache=cache, plan=plan, fixed=fixed,
        )  # fmt: skip
