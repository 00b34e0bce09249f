"""Who is calling: the one authentication step of every /graphql request and websocket.

`Identities.identify()` turns credentials into a frozen `Caller`: the account (or nobody), the
partner key (or none) and the account it acts for, the hash of the user's own token, and the bucket
the caller is rate-limited by. Everything that asks "who is this?" reads the Caller:

- HTTP: `caller_of(scope)` runs it once per request (first asked by the rate limiter,
  guards/rate_limit.py) and keeps it in the ASGI scope; the GraphQL context (app.py), the compiled
  path and the resolvers read that one (`Context.caller`, `Context.viewer`, `Context.partner`).
- Websocket: the upgrade request's headers as for HTTP (its handshake is rate-limited by them);
  a connection_init payload with `authorization` (and `actAs`) is identified once more and replaces
  them (app.py, on_ws_connect). Operations on the socket are limited and scope-checked with that
  Caller (schema/fast/live_socket.py; scopes in schema/limits.py, OperationChecks, for every operation).

Credentials: `Authorization: Bearer <token>` (a user token, or a partner key `amk_...`) and, with a
partner key, `Aidmap-Act-As: <account id>` for one of the accounts the key signed up (scope
accounts). Partner keys are looked up here only (PartnerKeys.lookup and its short cache, so a
revoked key stops within its ttl); an open socket is rechecked by guards/sockets.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope as AsgiScope
from strawberry.http.websocket_origin import normalize_origin

from aidmap.bounded import BoundedDict
from aidmap.db.reader import Reader
from aidmap.db.replica import ReadRouter
from aidmap.models import Scope
from aidmap.resolvers.accounts import Viewer, bearer_token, hash_token, viewer_for_account, viewer_for_token
from aidmap.resolvers.partners import PartnerKey, PartnerKeys, is_partner_key
from aidmap.services import services_of

ACT_AS_HEADER = "aidmap-act-as"
# Where credentials_of and caller_of keep a request's Credentials and Caller in the ASGI scope.
CREDENTIALS_KEY = "aidmap.credentials"
CALLER_KEY = "aidmap.caller"

TOKEN_REJECTED = "The token is not valid or has expired."
KEY_REFUSED = "The API key is not valid or has been revoked."
ORIGIN_REFUSED = "This API key may not be used from this browser origin."
ACT_AS_REFUSED = "This API key may act only for accounts it signed up (scope accounts)."

MAX_ACCOUNTS = 100_000

# The request headers Credentials.of_headers reads, as ASGI spells them (lower-case bytes).
_CREDENTIAL_HEADERS = {name.encode(): name for name in ("authorization", ACT_AS_HEADER, "origin")}

_ACCOUNT_OF_TOKEN = "SELECT account_id FROM access_tokens WHERE token_hash = %(token_hash)s::text"


@dataclass(frozen=True)
class Credentials:
    """What a request presents, parsed once: the bearer token (None: none sent, '': a malformed
    Authorization), the account a partner key acts as, the browser origin and the client's address."""

    token: str | None = None
    act_as: str | None = None
    origin: str | None = None
    client_host: str | None = None

    @classmethod
    def of_headers(cls, headers: Mapping[str, str], client_host: str | None) -> Credentials:
        return cls(
            token=bearer_token(headers.get("authorization")),
            act_as=headers.get(ACT_AS_HEADER),
            origin=headers.get("origin"),
            client_host=client_host,
        )

    @classmethod
    def of_connection_init(cls, params: Mapping[str, Any], upgrade: Credentials) -> Credentials | None:
        """A websocket's connection_init {"authorization": "Bearer ...", "actAs": "..."}; None when it
        brings no credentials (then the upgrade request's stand). Origin and address are the upgrade's."""
        header = params.get("authorization") or params.get("Authorization")
        token = bearer_token(header) if isinstance(header, str) else None
        if token is None:
            return None
        act_as = params.get("actAs")
        return cls(
            token=token,
            act_as=act_as if isinstance(act_as, str) else None,
            origin=upgrade.origin,
            client_host=upgrade.client_host,
        )


@dataclass(frozen=True)
class Refusal:
    """A partner key refused: HTTP answers `status` with `reason`, a websocket closes with 4403."""

    status: int
    reason: str


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as every guard, limit, scope check and resolver sees it."""

    credentials: Credentials = Credentials()
    # The signed-in person: by their own token, or the account a partner key acts for.
    viewer: Viewer | None = None
    # The partner app whose key sent the request (None also when the key was refused).
    partner: PartnerKey | None = None
    # The hash of the user's own token that authenticated `viewer` (None under a partner key):
    # what signOut revokes and changePassword keeps.
    token_hash: str | None = None
    # A bearer token was sent but is unknown or expired: mutations say so instead of "sign in".
    token_rejected: bool = False
    # A partner key that may not be used so (unknown or revoked, wrong origin, act-as refused).
    refusal: Refusal | None = None
    # The bucket this caller draws from (guards/rate_limit.py): its partner key's, else its address's
    # (rate_limit None: the address limit), and a signed-in person's account's besides.
    rate_key: str = "ip:unknown"
    rate_limit: int | None = None
    rate_account_id: int | None = None
    # The database could not be asked: get_context answers 503 (a websocket: 1013 at connection_init).
    failure: BaseException | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def anonymous(cls, credentials: Credentials) -> Caller:
        return cls(credentials=Credentials(client_host=credentials.client_host), rate_key=ip_key(credentials))

    @property
    def quota_client(self) -> str:
        """Who a request counts against for quotas: its partner key, else its account, else its address."""
        if self.partner is not None:
            return f"partner:{self.partner.id}"
        if self.viewer is not None:
            return f"account:{self.viewer.account_id}"
        return ip_key(self.credentials)


def ip_key(credentials: Credentials) -> str:
    return f"ip:{credentials.client_host or 'unknown'}"


class Identities:
    """The one place credentials are checked (built once per process, in the app's lifespan)."""

    def __init__(self, *, keys: PartnerKeys, reader: Reader, router: ReadRouter | None = None) -> None:
        self.keys = keys
        self.reader = reader
        self.router = router
        # token hash -> account id (None: no such token), for the rate limit of a token that no longer
        # authenticates: a token never changes account, and what a revoked one sends still counts
        # against its account.
        self._accounts: BoundedDict[str, int | None] = BoundedDict(MAX_ACCOUNTS)

    async def identify(self, credentials: Credentials) -> Caller:
        """The Caller for these credentials. Never raises: a database that cannot be asked is the
        Caller's `failure`, with the rate limit of what could be learnt (the address's at least)."""
        token = credentials.token
        if not token:
            # No token (anonymous), or a malformed Authorization header (a rejected token). Built
            # directly: the commonest request, where a replace() was a measurable part of its CPU.
            return Caller(credentials=credentials, rate_key=ip_key(credentials), token_rejected=token is not None)
        caller = Caller(credentials=credentials, rate_key=ip_key(credentials))
        try:
            if is_partner_key(token):
                return await self._partner_caller(caller, token)
            viewer = await viewer_for_token(reader=self.router or self.reader, token=token, primary=self.reader)
            if viewer is None:
                account_id = await self._account_of(token)
                return dataclasses.replace(caller, token_rejected=True, rate_account_id=account_id)
            self._accounts[hash_token(token)] = viewer.account_id
            return dataclasses.replace(
                caller, viewer=viewer, token_hash=hash_token(token), rate_account_id=viewer.account_id
            )
        except Exception as error:  # the database is down: limited by address, refused by get_context
            known = self._accounts.get(hash_token(token)) if token and not is_partner_key(token) else None
            return dataclasses.replace(caller, failure=error, rate_account_id=known)

    async def _partner_caller(self, caller: Caller, key: str) -> Caller:
        partner = await self.keys.lookup(key)
        if partner is None:
            return self._refused(caller, 401, KEY_REFUSED)
        # Refused or not, a known key's requests draw from its own bucket.
        caller = dataclasses.replace(caller, rate_key=f"partner:{partner.id}", rate_limit=partner.rate_limit_per_minute)
        origin = caller.credentials.origin
        if origin is not None and normalize_origin(origin) not in partner.allowed_origins:
            return self._refused(caller, 403, ORIGIN_REFUSED)
        act_as = caller.credentials.act_as
        if not act_as:
            return dataclasses.replace(caller, partner=partner)
        from aidmap.schema.ids import pk_of  # the schema's id format; imported late (schema imports guards)

        pk = pk_of(act_as, "Account", ACT_AS_HEADER)
        try:
            viewer = await viewer_for_account(reader=self.reader, account_id=pk) if pk is not None else None
        except Exception as error:  # the database is down: the key's bucket, refused by get_context
            return dataclasses.replace(caller, failure=error)
        if viewer is None or viewer.partner_id != partner.id or not partner.allows(Scope.ACCOUNTS):
            # The same answer whether the account exists or belongs to another partner.
            return self._refused(caller, 403, ACT_AS_REFUSED)
        return dataclasses.replace(caller, partner=partner, viewer=viewer)

    @staticmethod
    def _refused(caller: Caller, status: int, reason: str) -> Caller:
        # Neither partner nor viewer; token_rejected as for any token that did not authenticate.
        return dataclasses.replace(caller, refusal=Refusal(status, reason), token_rejected=True)

    async def _account_of(self, token: str) -> int | None:
        digest = hash_token(token)
        if digest in self._accounts:
            return self._accounts[digest]
        try:
            rows = await self.reader.fetch(_ACCOUNT_OF_TOKEN, {"token_hash": digest})
        except Exception:  # the address's bucket still holds
            return None
        account_id = int(rows[0].account_id) if rows else None
        self._accounts[digest] = account_id
        return account_id


def credentials_of(scope: AsgiScope) -> Credentials:
    """This HTTP request's (or websocket handshake's) credentials, parsed from its headers once."""
    credentials: Credentials | None = scope.get(CREDENTIALS_KEY)
    if credentials is None:
        client = scope.get("client")
        # One pass over the raw headers for the three it reads (the first of each, as starlette's
        # Headers.get gives it), instead of a Headers object scanned once per name.
        found: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name in _CREDENTIAL_HEADERS and (key := _CREDENTIAL_HEADERS[name]) not in found:
                found[key] = value.decode("latin-1")
        credentials = Credentials.of_headers(found, client[0] if client else None)
        scope[CREDENTIALS_KEY] = credentials
    return credentials


async def caller_of(scope: AsgiScope) -> Caller:
    """This HTTP request's (or websocket handshake's) Caller, identified from its headers on the
    first call and kept in the scope for every later one."""
    caller: Caller | None = scope.get(CALLER_KEY)
    if caller is not None:
        return caller
    credentials = credentials_of(scope)
    services = services_of(scope)
    identities = services.identities if services is not None else None
    caller = Caller.anonymous(credentials) if identities is None else await identities.identify(credentials)
    scope[CALLER_KEY] = caller
    return caller
