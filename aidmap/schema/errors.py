"""Expected failures in the schema: one error type and code enum per domain."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry

from aidmap.i18n import translate
from aidmap.problems import Code, Problem


@strawberry.interface(description="An expected failure: which input field, what went wrong, and a stable code.")
class UserError:
    field: str | None
    message: str


def _codes(name: str, codes: list[Code]) -> type[Enum]:
    return strawberry.enum(Enum(name, {c.value: c.value for c in codes}))  # type: ignore[return-value]


_INPUT = [Code.REQUIRED, Code.INVALID, Code.TOO_LONG, Code.TOO_SHORT, Code.OUT_OF_RANGE]
_ACCESS = [Code.NOT_FOUND, Code.UNAUTHENTICATED, Code.FORBIDDEN, Code.INVALID_STATE, Code.IDEMPOTENCY_KEY_REUSED]

AccountErrorCode = _codes(
    "AccountErrorCode",
    [*_INPUT, Code.TOO_COMMON, Code.PHONE_TAKEN, Code.INVALID_CREDENTIALS, Code.TOO_MANY_ATTEMPTS, Code.FORBIDDEN]
    + [Code.UNAUTHENTICATED],
)
NeedErrorCode = _codes(
    "NeedErrorCode",
    [*_INPUT, *_ACCESS, Code.QUOTA_EXCEEDED, Code.ALREADY_REPORTED, Code.TOO_MANY_ATTEMPTS]
    + [Code.CLAIM_CODE_WRONG, Code.CLAIM_CODE_EXPIRED, Code.ATTESTATION_INVALID],
)
OfferErrorCode = _codes("OfferErrorCode", [*_INPUT, *_ACCESS, Code.QUOTA_EXCEEDED])
MessageErrorCode = _codes("MessageErrorCode", [*_INPUT, *_ACCESS])
RoleErrorCode = _codes("RoleErrorCode", [*_INPUT, *_ACCESS])
CollectionPointErrorCode = _codes("CollectionPointErrorCode", [*_INPUT, *_ACCESS])
NotificationErrorCode = _codes("NotificationErrorCode", [*_INPUT, *_ACCESS])
WebhookErrorCode = _codes("WebhookErrorCode", [*_INPUT, *_ACCESS, Code.QUOTA_EXCEEDED])
HelpErrorCode = _codes(
    "HelpErrorCode",
    [*_INPUT, *_ACCESS, Code.QUANTITY_EXCEEDS_OPEN, Code.OWN_NEED, Code.QUOTA_EXCEEDED, Code.DISCLOSURE_LIMIT],
)
PledgeErrorCode = _codes(
    "PledgeErrorCode",
    [
        *_INPUT, *_ACCESS, Code.QUANTITY_EXCEEDS_OPEN, Code.OWN_NEED, Code.OFFER_UNAVAILABLE, Code.QUOTA_EXCEEDED,
        Code.DISCLOSURE_LIMIT,
    ],
)  # fmt: skip


@strawberry.type
class AccountError(UserError):
    code: AccountErrorCode  # type: ignore[valid-type]
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="With TOO_MANY_ATTEMPTS: seconds until the next attempt is accepted."
    )


@strawberry.type
class NeedError(UserError):
    code: NeedErrorCode  # type: ignore[valid-type]
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="With TOO_MANY_ATTEMPTS: seconds until the next attempt is accepted."
    )


@strawberry.type
class OfferError(UserError):
    code: OfferErrorCode  # type: ignore[valid-type]


@strawberry.type
class MessageError(UserError):
    code: MessageErrorCode  # type: ignore[valid-type]


@strawberry.type
class HelpError(UserError):
    code: HelpErrorCode  # type: ignore[valid-type]


@strawberry.type
class RoleError(UserError):
    code: RoleErrorCode  # type: ignore[valid-type]


@strawberry.type
class CollectionPointError(UserError):
    code: CollectionPointErrorCode  # type: ignore[valid-type]


@strawberry.type
class NotificationError(UserError):
    code: NotificationErrorCode  # type: ignore[valid-type]


@strawberry.type
class WebhookError(UserError):
    code: WebhookErrorCode  # type: ignore[valid-type]


@strawberry.type
class PledgeError(UserError):
    code: PledgeErrorCode  # type: ignore[valid-type]


E = TypeVar(
    "E",
    AccountError,
    NeedError,
    OfferError,
    PledgeError,
    MessageError,
    HelpError,
    RoleError,
    WebhookError,
    NotificationError,
    CollectionPointError,
)

_CODE_ENUMS = {
    AccountError: AccountErrorCode,
    NeedError: NeedErrorCode,
    OfferError: OfferErrorCode,
    PledgeError: PledgeErrorCode,
    MessageError: MessageErrorCode,
    HelpError: HelpErrorCode,
    RoleError: RoleErrorCode,
    CollectionPointError: CollectionPointErrorCode,
    WebhookError: WebhookErrorCode,
    NotificationError: NotificationErrorCode,
}


def to_errors(error_type: type[E], problems: list[Problem]) -> list[E]:
    codes = _CODE_ENUMS[error_type]
    timed = error_type in (AccountError, NeedError)
    return [
        error_type(
            field=p.field,
            message=translate(p.message, p.code.value),
            code=codes[p.code.value],
            **({"retry_after_seconds": p.retry_after_seconds} if timed else {}),
        )
        for p in problems
    ]
