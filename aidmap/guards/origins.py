"""Browser origins: CORS for HTTP requests and the Origin check of websocket handshakes.

Allowed: the server's own origin, AIDMAP_ALLOWED_ORIGINS, and the origins partners registered.
A preflight carries no key, so it is checked against every partner's origins; the request
itself, with its key, must come from an origin of that partner (checked in the GraphQL context).
Requests without an Origin header are not from a browser and pass.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.websocket_origin import is_same_origin, normalize_origin

from aidmap.resolvers.partners import PartnerKeys
from aidmap.services import services_of

ALLOWED_HEADERS = "authorization, content-type, aidmap-act-as"
PREFLIGHT_MAX_AGE = "600"
# Public documents any page may read (they answer `Access-Control-Allow-Origin: *` themselves): the
# attestation keys and status list, which carry no private data and take no credentials.
PUBLIC_PATHS = frozenset({"/.well-known/jwks.json", "/attestations/status"})


class OriginMiddleware:
    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = frozenset(o for o in (normalize_origin(a) for a in allowed) if o)

    async def _allowed(self, scope: Scope, origin: str, headers: Headers) -> bool:
        if headers.get("sec-fetch-site") == "same-origin" or is_same_origin(origin, headers.get("host")):
            return True
        normalized = normalize_origin(origin)
        if normalized is None:
            return False
        if normalized in self.allowed:
            return True
        services = services_of(scope)
        keys: PartnerKeys | None = services.partner_keys if services is not None else None
        try:
            return keys is not None and normalized in await keys.all_origins()
        except Exception:  # the database is down: only the configured origins, until it is back
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or (scope["type"] == "http" and scope["path"] in PUBLIC_PATHS and scope["method"] == "GET"):
            await self.app(scope, receive, send)
            return
        allowed = await self._allowed(scope, origin, headers)
        if scope["type"] == "websocket":
            if allowed:
                await self.app(scope, receive, send)
            else:  # closing before accepting answers the handshake with HTTP 403
                await send({"type": "websocket.close", "code": 1008, "reason": "Origin not allowed"})
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response: Response = (
                Response(status_code=204, headers=self._cors_headers(origin, preflight=True))
                if allowed
                else PlainTextResponse("Origin not allowed", status_code=403)
            )
            await response(scope, receive, send)
            return
        if not allowed:
            # A page on another origin (a simple GET needs no preflight): refused before anything runs.
            await PlainTextResponse("Origin not allowed", status_code=403)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in self._cors_headers(origin, preflight=False).items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _cors_headers(origin: str, *, preflight: bool) -> dict[str, str]:
        headers = {"access-control-allow-origin": origin, "vary": "Origin"}
        if preflight:
            headers |= {
                "access-control-allow-methods": "GET, POST",
                "access-control-allow-headers": ALLOWED_HEADERS,
                "access-control-max-age": PREFLIGHT_MAX_AGE,
            }
        return headers
