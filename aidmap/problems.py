"""Expected failures, returned to clients in a payload's `errors` (never raised past the resolver)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aidmap.i18n import msg


class Code(StrEnum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    TOO_SHORT = "TOO_SHORT"
    TOO_COMMON = "TOO_COMMON"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_STATE = "INVALID_STATE"
    PHONE_TAKEN = "PHONE_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    QUANTITY_EXCEEDS_OPEN = "QUANTITY_EXCEEDS_OPEN"
    OWN_NEED = "OWN_NEED"
    OFFER_UNAVAILABLE = "OFFER_UNAVAILABLE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    ALREADY_REPORTED = "ALREADY_REPORTED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    CLAIM_CODE_WRONG = "CLAIM_CODE_WRONG"
    CLAIM_CODE_EXPIRED = "CLAIM_CODE_EXPIRED"
    DISCLOSURE_LIMIT = "DISCLOSURE_LIMIT"
    # Another deployment's attestation that does not verify, is not trusted, expired, revoked or not
    # for this need.
    ATTESTATION_INVALID = "ATTESTATION_INVALID"


@dataclass(frozen=True)
class Problem:
    field: str | None
    message: str
    code: Code
    # With TOO_MANY_ATTEMPTS: when to try again.
    retry_after_seconds: int | None = None


class Problems(Exception):
    """Raised inside a write transaction to roll it back and report expected failures."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, field: str | None, message: str, code: Code) -> Problems:
        return cls([Problem(field, message, code)])


class CountedProblems(Problems):
    """Problems whose transaction is committed all the same: a failed attempt (a wrong claim code, a
    wrong password) must stay counted, or parallel guesses would all see the count before it."""


class UserInputError(Exception):
    """Bad arguments to a query (not a mutation): reported in top-level errors with a code."""

    def __init__(self, field: str, message: str, code: Code = Code.INVALID) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


UNAUTHENTICATED = Problem(None, msg("Sign in to do this."), Code.UNAUTHENTICATED)
SESSION_EXPIRED = Problem(None, msg("Your session has expired or is not valid; sign in again."), Code.UNAUTHENTICATED)
