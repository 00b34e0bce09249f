"""Pieces of raw SQL built from Python values once, at import: statuses and status lists come from
the enums (models/), so adding or renaming a status cannot leave a pasted literal behind; the
models' partial indexes say their predicates the same way."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


def status_in(statuses: Iterable[StrEnum], *, column: str = "status", negate: bool = False) -> str:
    """`status IN ('OPEN', 'PARTLY_PLEDGED')` for these members, in their order; literals, not
    parameters, so a partial index whose predicate says the same is used by the planner."""
    values = ", ".join(f"'{status.value}'" for status in statuses)
    return f"{column} {'NOT IN' if negate else 'IN'} ({values})"


def status_is(status: StrEnum, *, column: str = "status", negate: bool = False) -> str:
    """`status = 'ACTIVE'` for one member, of a status or any enum column (a literal, for the same
    reason as status_in)."""
    return f"{column} {'<>' if negate else '='} '{status.value}'"
