"""Open websockets follow their credentials: a revoked partner key, a revoked or expired user token
closes the sockets opened with it (4403), as HTTP refuses them.

A socket is authenticated once, at connection_init; without this, one stays open and receives
events for as long as the client keeps it. Each process rechecks the credentials of all its open
sockets every `interval_s` in two queries (not one per socket), straight from the database (not the
key cache), so a revocation reaches every process within about `interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketState

from aidmap.db.reader import Reader

log = logging.getLogger(__name__)

REVOKED_CLOSE = 4403

_LIVE_TOKENS = """
SELECT token_hash FROM access_tokens
WHERE token_hash = ANY(%(hashes)s::text[]) AND revoked_at IS NULL AND expires_at > now()
"""
_LIVE_PARTNERS = "SELECT id FROM partners WHERE id = ANY(%(ids)s::bigint[]) AND revoked_at IS NULL"


@dataclass(frozen=True)
class _Credentials:
    token_hash: str | None
    partner_id: int | None


class SocketGuard:
    def __init__(self, reader: Reader, *, interval_s: float) -> None:
        self._reader = reader
        self._interval_s = interval_s
        # By id: a WebSocket is a Mapping, so not hashable.
        self._sockets: dict[int, tuple[WebSocket, _Credentials]] = {}
        self._task: asyncio.Task[None] | None = None

    def register(self, websocket: WebSocket, *, token_hash: str | None, partner_id: int | None) -> None:
        if token_hash is not None or partner_id is not None:
            self._sockets[id(websocket)] = (websocket, _Credentials(token_hash, partner_id))

    def open_sockets(self) -> int:
        return len(self._sockets)

    async def recheck(self) -> int:
        """Close the sockets whose credentials are gone; returns how many were closed."""
        for key in [k for k, (w, _) in self._sockets.items() if _closed(w)]:
            del self._sockets[key]
        if not self._sockets:
            return 0
        watched = list(self._sockets.values())
        hashes = sorted({c.token_hash for _, c in watched if c.token_hash is not None})
        ids = sorted({c.partner_id for _, c in watched if c.partner_id is not None})
        live_tokens = (
            {r.token_hash for r in await self._reader.fetch(_LIVE_TOKENS, {"hashes": hashes})} if hashes else set()
        )
        live_partners = {r.id for r in await self._reader.fetch(_LIVE_PARTNERS, {"ids": ids})} if ids else set()
        closed = 0
        for websocket, credentials in watched:
            token_gone = credentials.token_hash is not None and credentials.token_hash not in live_tokens
            key_gone = credentials.partner_id is not None and credentials.partner_id not in live_partners
            if token_gone or key_gone:
                self._sockets.pop(id(websocket), None)
                closed += 1
                with contextlib.suppress(Exception):  # it may be closing on its own already
                    await websocket.close(code=REVOKED_CLOSE, reason="The credentials were revoked or have expired.")
        return closed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.recheck()
            except Exception:  # the database is down: try again next round
                log.warning("could not recheck the credentials of open websockets", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="aidmap-socket-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _closed(websocket: WebSocket) -> bool:
    return WebSocketState.DISCONNECTED in (websocket.client_state, websocket.application_state)
