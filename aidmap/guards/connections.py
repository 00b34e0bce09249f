"""Slow clients: a deadline for the request head, and a cap on open connections per address.

uvicorn has neither: its timeout_keep_alive runs only between requests (armed when a response
is complete), so a socket that sends `POST /graphql HTTP/1.1\\r\\nHost: x\\r\\n` and stops is kept
forever, and its limit_concurrency (the server-wide cap, set by `aidmap serve`) counts such
sockets against everyone. This is uvicorn's own HTTP protocol (httptools, else h11) with a timer
from a request head's first byte to its end, and a count of connections per client address.
The body has its deadline in guards/body_limit.py; websockets, once upgraded, their own
(connection_init timeout, pings).
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


def guarded_protocol(*, head_timeout_s: float, max_per_ip: int) -> type[asyncio.Protocol]:
    """An HTTP protocol class for uvicorn.Config(http=...); max_per_ip 0: no per-address cap."""
    open_per_ip: Counter[str] = Counter()
    too_slow = _response("408 Request Timeout", f"The request head did not arrive within {head_timeout_s:g} s.")
    too_many = _response("503 Service Unavailable", "Too many open connections from this address.")

    class GuardedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _head_timer: asyncio.TimerHandle | None = None
        _counted: str | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
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
