"""Relay global IDs: base64 of "Type:pk", opaque to clients."""

from __future__ import annotations

import base64
import binascii

from aidmap.i18n import msg
from aidmap.problems import Code, UserInputError

NODE_TYPES = ("Need", "Offer", "Pledge", "Account", "Message", "HelpRequest")


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, field: str = "id", allowed: tuple[str, ...] = NODE_TYPES) -> tuple[str, int]:
    """(type name, primary key); raises UserInputError for anything malformed or of a type not allowed."""
    try:
        text = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, raw_pk = text.split(":", 1)
        pk = int(raw_pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise UserInputError(field, msg("This is not a valid id."), Code.INVALID) from None
    if type_name not in allowed or not 0 < pk < 2**63:
        raise UserInputError(field, msg("This is not a valid id."), Code.INVALID)
    return type_name, pk


def pk_of(global_id: str, expected_type: str, field: str) -> int | None:
    """The primary key if the id is a well-formed id of the expected type, else None."""
    try:
        type_name, pk = from_global_id(global_id, field, allowed=(expected_type,))
    except UserInputError:
        return None
    return pk if type_name == expected_type else None
