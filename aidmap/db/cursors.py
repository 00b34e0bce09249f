"""Opaque keyset cursors: the sort key of the last row seen, never an offset."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from aidmap.i18n import msg
from aidmap.problems import Code, UserInputError

MAX_PAGE = 100


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, kind: str) -> list[str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise UserInputError("after", msg("The cursor is not valid."), Code.INVALID) from None
    parts = text.split("|")
    if len(parts) != 3 or parts[0] != kind:
        raise UserInputError("after", msg("The cursor is not valid for this list."), Code.INVALID)
    return parts[1:]


MAX_ID = 2**63 - 1  # ids and sequence numbers are PostgreSQL bigints


def _number(text: str) -> int:
    """A cursor's id or sequence number: plain ASCII digits within a bigint ("+1", "1_0", "٣" and
    numbers past 2**63 - 1 are not cursors this server wrote), else INVALID."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        raise UserInputError("after", msg("The cursor is not valid."), Code.INVALID)
    return int(text)


def distance_cursor(row_id: int) -> str:
    # Only the id: the exact distance would reveal where a need is (see geo/privacy.py).
    return _encode(f"d|{row_id}|")


def parse_distance_cursor(cursor: str) -> int:
    row_id, _ = _decode(cursor, "d")
    return _number(row_id)


def urgency_cursor(row_id: int, urgency: str) -> str:
    # The row's public urgency and id; its distance is measured again from the next call's origin.
    return _encode(f"u|{row_id}|{urgency}")


def parse_urgency_cursor(cursor: str, levels: tuple[str, ...]) -> tuple[int, str]:
    row_id, level = _decode(cursor, "u")
    parsed = _number(row_id)
    if level not in levels:
        raise UserInputError("after", msg("The cursor is not valid."), Code.INVALID)
    return parsed, level


def created_cursor(created_at: datetime, row_id: int) -> str:
    return _encode(f"c|{created_at.isoformat()}|{row_id}")


def parse_created_cursor(cursor: str) -> tuple[datetime, int]:
    created, row_id = _decode(cursor, "c")
    number = _number(row_id)
    try:
        return datetime.fromisoformat(created), number
    except ValueError:
        raise UserInputError("after", msg("The cursor is not valid."), Code.INVALID) from None


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise UserInputError(
            "first", msg("{field} must be between 1 and {n}.", field="first", n=MAX_PAGE), Code.OUT_OF_RANGE
        )


def event_cursor(seq: int) -> str:
    return _encode(f"e|{seq}|")


def parse_event_cursor(cursor: str) -> int:
    seq, _ = _decode(cursor, "e")
    return _number(seq)
