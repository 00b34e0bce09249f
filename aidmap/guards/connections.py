"""Slow clients: a deadline for the request head, and a cap on open connections per address.

uvicorn has neither: its timeout_keep_alive runs only between requests (armed when a response
is complete), so a socket that sends `POST /graphql HTTP/1.1\\r\\nHost: x\\r\\n` and stops is kept
forever, and its limit_concurrency (the server-wide cap, set by `aidmap serve`) counts such
sockets against everyone. This is uvicorn's own HTTP protocol (httptools, else h11) with a timer
from a request head's first byte to its end, and a count of connections per client address.
The body has its deadline in guards/body_limit.py; websockets, once upgraded, their own
(connection_init timeout, pings).

It also writes each response to the socket once (CoalescingTransport): uvicorn writes a response's
head and its body separately, two send() calls where one does, and on this machine a send() to a
local socket is the largest single cost of a small GraphQL answer (15% of the server's samples under
`make bench-peer`'s load, py-spy).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def _response(status: str, message: str) -> bytes:
    body = message.encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
    return (head + "connection: close\r\n\r\n").encode() + body


class CoalescingTransport:
    """A transport that holds what is written until the response is complete (the protocol calls
    flush()) or the event loop has run everything ready (call_soon), then writes it in one call.
    Within one task step nothing is delayed: a streamed response's chunks, a 100 Continue and an
    error written before close() go out at the latest when the step ends, in order."""

    __slots__ = ("_held", "_loop", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._held.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = []
            if self._transport.is_closing():
                return  # the peer is gone: asyncio would only count and warn
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def _flush_soon(self) -> None:
        self._scheduled = False
        if not self._transport.is_closing():
            self.flush()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


def guarded_protocol(*, head_timeout_s: float, max_per_ip: int) -> type[asyncio.Protocol]:
    """An HTTP protocol class for uvicorn.Config(http=...); max_per_ip 0: no per-address cap."""
    open_per_ip: Counter[str] = Counter()
    too_slow = _response("408 Request Timeout", f"The request head did not arrive within {head_timeout_s:g} s.")
    too_many = _response("503 Service Unavailable", "Too many open connections from this address.")

    class GuardedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _head_timer: asyncio.TimerHandle | None = None
        _counted: str | None = None
        _socket: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._socket = transport
            self.transport = CoalescingTransport(transport, self.loop)
            address = self.client[0] if self.client else None
            if address is not None and max_per_ip:
                if open_per_ip[address] >= max_per_ip:
                    transport.write(too_many)
                    transport.close()
                    return
                open_per_ip[address] += 1
                self._counted = address
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._uncount()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            self.transport.flush()
            super().on_response_complete()

        def handle_websocket_upgrade(self) -> None:
            # The websocket protocol that takes over writes its frames itself (schema/fast/ws_frames.py).
            self.transport.flush()
            self.transport = self._socket
            super().handle_websocket_upgrade()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.get_protocol() is not self:
                # Upgraded to a websocket: the protocol that took over has its own limits.
                self._disarm()
                self._uncount()
            elif self.cycle is None or self.cycle.response_complete:
                if self._head_timer is None:  # the deadline runs from a head's first byte
                    self._arm()
            else:
                self._disarm()  # the head is complete: the app (and its body deadline) has it

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(head_timeout_s, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _uncount(self) -> None:
            if self._counted is not None:
                open_per_ip[self._counted] -= 1
                if open_per_ip[self._counted] <= 0:
                    del open_per_ip[self._counted]
                self._counted = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(too_slow)
                self.transport.close()

    return GuardedHTTPProtocol
