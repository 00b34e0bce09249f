"""Open websockets follow their credentials: a revoked partner key, a revoked or expired user token,
or a role taken from the account (an admin's revokeRole) closes the sockets opened with it (4403),
as HTTP refuses them.

A socket is authenticated once, at connection_init; without this, one stays open and receives
events for as long as the client keeps it. Each process rechecks the credentials of all its open
sockets every `interval_s` in three queries (not one per socket), straight from the database (not the
key cache), so a revocation reaches every process within about `interval_s`.

A socket keeps the viewer it was opened with (its roles, its verifier wards) for as long as it is
open, so a demoted verifier or admin would go on receiving what the role let it see: a socket whose
account has lost any of the roles it had at connect time is closed, and the client reconnects with
what it has now. Gaining a role closes nothing. A verifier's areas change only with the role today
(grantRole adds areas, revokeRole VERIFIER removes them all).

The same rounds keep `live_sockets` (the accounts with a socket open in this process) fresh, so the
notifications of every process know who the socket has told already (aidmap/notify/dispatch.py).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketState

from aidmap.db.reader import Reader
from aidmap.jobs.periodic import PeriodicJob

if TYPE_CHECKING:
    from aidmap.resolvers.accounts import Viewer

log = logging.getLogger(__name__)

REVOKED_CLOSE = 4403

_LIVE_TOKENS = """
SELECT token_hash FROM access_tokens
WHERE token_hash = ANY(%(hashes)s::text[]) AND revoked_at IS NULL AND expires_at > now()
"""
_LIVE_PARTNERS = "SELECT id FROM partners WHERE id = ANY(%(ids)s::bigint[]) AND revoked_at IS NULL"
_ROLES = "SELECT id, roles FROM accounts WHERE id = ANY(%(ids)s::bigint[])"
_PRESENT = """
INSERT INTO live_sockets (process, account_id, seen_at) SELECT %(process)s, unnest(%(ids)s::bigint[]), now()
ON CONFLICT (process, account_id) DO UPDATE SET seen_at = now()
"""
_GONE = "DELETE FROM live_sockets WHERE process = %(process)s AND account_id <> ALL(%(ids)s::bigint[])"
_STALE = "DELETE FROM live_sockets WHERE seen_at < now() - interval '1 hour'"


@dataclass(frozen=True)
class _Credentials:
    token_hash: str | None
    partner_id: int | None
    # The account the socket acts as and the roles it had when the socket was opened.
    account_id: int | None = None
    roles: frozenset[str] = frozenset()


class SocketGuard:
    def __init__(self, reader: Reader, *, interval_s: float) -> None:
        self._reader = reader
        self._interval_s = interval_s
        # By id: a WebSocket is a Mapping, so not hashable.
        self._sockets: dict[int, tuple[WebSocket, _Credentials]] = {}
        self._job: PeriodicJob | None = None
        self.process = uuid.uuid4().hex

    async def mark_present(self, account_id: int) -> None:
        """Written before the socket is acknowledged: from then on no chat message is pushed to this
        account as well (a failure here only means a push too many)."""
        try:
            await self._reader.execute(_PRESENT, {"process": self.process, "ids": [account_id]})
        except Exception:
            log.warning("could not note an open websocket", exc_info=True)

    async def refresh_presence(self) -> None:
        ids = sorted({c.account_id for w, c in self._sockets.values() if c.account_id is not None and not _closed(w)})
        await self._reader.execute(_PRESENT, {"process": self.process, "ids": ids})
        await self._reader.execute(_GONE, {"process": self.process, "ids": ids})

    def register(
        self, websocket: WebSocket, *, token_hash: str | None, partner_id: int | None, viewer: Viewer | None = None
    ) -> None:
        if token_hash is not None or partner_id is not None or viewer is not None:
            account_id = viewer.account_id if viewer is not None else None
            roles = frozenset(viewer.roles) if viewer is not None else frozenset()
            self._sockets[id(websocket)] = (websocket, _Credentials(token_hash, partner_id, account_id, roles))

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
        accounts = sorted({c.account_id for _, c in watched if c.account_id is not None})
        roles: dict[int, frozenset[str]] = (
            {r.id: frozenset(r.roles) for r in await self._reader.fetch(_ROLES, {"ids": accounts})} if accounts else {}
        )
        closed = 0
        for websocket, credentials in watched:
            token_gone = credentials.token_hash is not None and credentials.token_hash not in live_tokens
            key_gone = credentials.partner_id is not None and credentials.partner_id not in live_partners
            demoted = credentials.account_id is not None and not credentials.roles <= roles.get(
                credentials.account_id, frozenset()
            )
            if token_gone or key_gone or demoted:
                self._sockets.pop(id(websocket), None)
                closed += 1
                with contextlib.suppress(Exception):  # it may be closing on its own already
                    await websocket.close(code=REVOKED_CLOSE, reason=_reason(token_gone or key_gone))
        return closed

    async def _step(self) -> None:
        await self.recheck()
        await self.refresh_presence()

    def _step_failed(self, _: Exception) -> None:
        log.warning("could not recheck the credentials of open websockets", exc_info=True)

    def start(self) -> None:
        # The database down only means trying again next round: one warning, no traceback storm.
        self._job = PeriodicJob(
            name="aidmap-socket-guard", step=self._step, interval_s=self._interval_s, on_error=self._step_failed
        )
        self._job.start()

    async def stop(self) -> None:
        if self._job is not None:
            await self._job.stop()
        with contextlib.suppress(Exception):  # the rows age out anyway
            await self._reader.execute(
                "DELETE FROM live_sockets WHERE process = %(process)s", {"process": self.process}
            )
            await self._reader.execute(_STALE, {})


def _reason(credentials_gone: bool) -> str:
    if credentials_gone:
        return "The credentials were revoked or have expired."
    return "A role of this account was revoked; reconnect."


def _closed(websocket: WebSocket) -> bool:
    return WebSocketState.DISCONNECTED in (websocket.client_state, websocket.application_state)
