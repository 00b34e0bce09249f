"""The fast HTTP route: a compiled document's POST answered in plain ASGI.

It sits innermost in the middleware stack (create_app), so every guard in front of the app has
already run for the request: the request id, the security headers, the body limit and its
deadline (the body is read through their `receive`), the rate limit, the origin check and CORS.
What it skips is only starlette's routing and request/response objects and strawberry's view:
for a POST to /graphql with a JSON body whose document is compiled (schema/fast/compiled.py), it
authenticates through the app's own step (AidmapGraphQL.get_context: token, partner key, act-as),
applies the same persisted-query rule, lets the compiled path run its limit and scope checks and
the search, and writes the answer's bytes itself, with the headers strawberry's view would send.

Anything else goes on to the app unchanged, with the body it has read handed over again: another
path or method, a body that is not a JSON object, a document that is not compiled, a refusal at
authentication (the view answers it, in its own shape), and any request the compiled path gives
back (bad variables, over cost, outside scopes, an error): the view's answer is the reference one.
tests/schema/test_fast_paths.py compares the two routes' answers byte for byte.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from aidmap.app import AidmapGraphQL

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"
JSON_HEADERS = [(b"content-type", b"application/json")]
GRAPHQL_RESPONSE_HEADERS = [(b"content-type", b"application/graphql-response+json; charset=utf-8")]


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the app after this route read the body: the messages it read, then the real one."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body, through the guards' receive (its size limit and
    deadline raise from there); None for the body if the client went away first."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None  # disconnected: the app reads the same disconnect
        if not message.get("more_body", False):
            break
    if len(messages) == 1:
        return messages, messages[0].get("body", b"")
    return messages, b"".join(m.get("body", b"") for m in messages)


class FastGraphQLRoute:
    """Innermost middleware: compiled documents answered here, everything else by `app`."""

    def __init__(self, app: ASGIApp, *, graphql: AidmapGraphQL) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != GRAPHQL_PATH
            or self.graphql.compiled is None
        ):
            await self.app(scope, receive, send)
            return
        media = accept = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                media = value
            elif name == b"accept":
                accept = value
        if media is None or media.split(b";")[0].strip().lower() != b"application/json":
            await self.app(scope, receive, send)
            return
        if accept is not None and (b"multipart" in accept or b"event-stream" in accept):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        answer = await self._answer(scope, receive, body, accept) if body is not None else None
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        status, headers, payload = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(
        self, scope: Scope, receive: Receive, body: bytes, accept: bytes | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """(status, headers, body) of the compiled answer, or None: the app answers."""
        from aidmap.app import persisted_query, wants_graphql_response

        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("extensions") is not None:
            return None  # persisted queries go through the view (execute_single compiles them too)
        query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None) or not isinstance(name, str | None):
            return None
        graphql = self.graphql
        compiled = graphql.compiled
        assert compiled is not None
        if compiled.operation(query, name) is None:
            return None
        request = Request(scope, receive)
        sub_response = await graphql.get_sub_response(request)
        try:
            context = await graphql.get_context(request, response=sub_response)
        except HTTPException:
            return None  # refused at authentication, or the database is down: the view says so
        if context.partner is not None and context.partner.registered_queries_only:
            from strawberry.http import GraphQLRequestData

            request_data = GraphQLRequestData(query=query, variables=variables, operation_name=name, extensions=None)
            if await persisted_query(
                request.state.services.persisted_queries,
                context.partner,
                request_data,
                graphql.schema,
                context.caller.quota_client,
            ):
                return None  # a key held to registered queries: the view refuses it
        result = await compiled.execute(query, name, variables, context)
        if result is None:
            return None
        response: dict[str, Any] = {"data": result.data}
        if result.extensions:
            response["extensions"] = result.extensions
        try:
            payload = orjson.dumps(response)
        except TypeError:
            return None  # something orjson cannot write: the view's encoder can
        graphql_response = wants_graphql_response(accept.decode("latin-1")) if accept is not None else False
        media = GRAPHQL_RESPONSE_HEADERS if graphql_response else JSON_HEADERS
        headers = [(b"content-length", str(len(payload)).encode()), *media]
        headers.extend(sub_response.headers.raw)
        status = sub_response.status_code or 200
        if sub_response.background is not None:
            return None  # a task to run after the answer: the view's Response runs it
        return status, headers, payload
