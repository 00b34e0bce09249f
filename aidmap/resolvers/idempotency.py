"""Idempotency keys for creates and pledges: retry safely after a timeout or a dropped connection.

Claimed inside the write's own transaction: a second request with the same key waits on the
first one's uncommitted row, then sees its result (the same input) or a typed error (another
input). If the first one rolled back, the second one runs. Keys are kept 48 hours.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.i18n import msg
from aidmap.problems import Code, Problems

MAX_KEY = 200
KEEP_HOURS = 48


def input_hash(value: Any) -> str:
    """A stable hash of a mutation's input (without its idempotency key)."""

    def plain(item: Any) -> Any:
        if is_dataclass(item) and not isinstance(item, type):
            return {k: plain(v) for k, v in asdict(item).items() if k != "idempotency_key"}
        if hasattr(item, "__dict__") and not isinstance(item, Enum | datetime):
            return {k: plain(v) for k, v in vars(item).items() if k != "idempotency_key" and not k.startswith("_")}
        if isinstance(item, Enum):
            return item.value
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, list | tuple):
            return [plain(v) for v in item]
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items() if k != "idempotency_key"}
        return item

    return hashlib.sha256(json.dumps(plain(value), sort_keys=True, default=str).encode()).hexdigest()


async def claim(*, session: AsyncSession, account_id: int, key: str, operation: str, digest: str) -> int | None:
    """None: go ahead (then call `remember`). An id: this key already made that object."""
    if not key.strip() or len(key) > MAX_KEY:
        raise Problems.one(
            "idempotencyKey",
            msg("{field} must be 1 to {n} characters.", field="idempotencyKey", n=MAX_KEY),
            Code.INVALID,
        )
    inserted = await session.execute(
        text(
            "INSERT INTO idempotency_keys (account_id, key, operation, input_hash) VALUES (:a, :k, :o, :h) "
            "ON CONFLICT (account_id, key) DO NOTHING RETURNING key"
        ),
        {"a": account_id, "k": key, "o": operation, "h": digest},
    )
    if inserted.first() is not None:
        return None
    row = (
        await session.execute(
            text("SELECT operation, input_hash, result_id FROM idempotency_keys WHERE account_id = :a AND key = :k"),
            {"a": account_id, "k": key},
        )
    ).one()
    if row.operation != operation or row.input_hash != digest or row.result_id is None:
        raise Problems.one(
            "idempotencyKey",
            msg("This idempotencyKey was already used for a different request."),
            Code.IDEMPOTENCY_KEY_REUSED,
        )
    return int(row.result_id)


async def remember(*, session: AsyncSession, account_id: int, key: str, result_id: int) -> None:
    await session.execute(
        text("UPDATE idempotency_keys SET result_id = :r WHERE account_id = :a AND key = :k"),
        {"r": result_id, "a": account_id, "k": key},
    )


async def forget_old(*, session: AsyncSession) -> int:
    result = await session.execute(
        text(f"DELETE FROM idempotency_keys WHERE created_at < now() - interval '{KEEP_HOURS} hours'")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
