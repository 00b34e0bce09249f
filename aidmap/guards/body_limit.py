"""Request bodies: at most AIDMAP_MAX_BODY_BYTES, arriving within AIDMAP_BODY_TIMEOUT_SECONDS.

Websocket messages get the same cap: a bigger one closes the socket (1009, message too big).

A 10 MB body is refused from its Content-Length before it is read (413); a chunked one as soon
as it grows past the limit; an upload that never finishes is cut off (408) instead of holding
a connection and a worker forever.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(send, 413, f"The request body is larger than {self.max_bytes} bytes.")
            return
        deadline = time.monotonic() + self.timeout_s
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            remaining = deadline - time.monotonic()
            try:
                # asyncio.timeout, not wait_for: wait_for (3.11) runs every receive in a task of its
                # own, though the body has almost always arrived already.
                async with asyncio.timeout(max(remaining, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, f"The request body is larger than {self.max_bytes} bytes.")
        except BodyTooSlow:
            if not started:
                await _refuse(send, 408, f"The request body did not arrive within {self.timeout_s:.0f} s.")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and _too_big(message, self.max_bytes):
                # The server already holds it (uvicorn's ws_max_size, set by `aidmap serve`, refuses
                # earlier); it is not decoded, and the client learns why.
                closed = True
                reason = f"Message larger than {self.max_bytes} bytes"
                await send({"type": "websocket.close", "code": 1009, "reason": reason})
                return {"type": "websocket.disconnect", "code": 1009}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:  # nothing may follow our close
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _too_big(message: Message, max_bytes: int) -> bool:
    text = message.get("text")
    if text is None:
        return len(message.get("bytes") or b"") > max_bytes
    # A character is 1-4 bytes in UTF-8: encode only when the count alone cannot decide.
    if len(text) > max_bytes or len(text) * 4 <= max_bytes:
        return len(text) > max_bytes
    return len(text.encode()) > max_bytes
