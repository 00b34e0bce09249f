"""Duplicate signals at intake: the same contact phone, or the same kind of need close by with similar text.

A flag for verifiers (`possibleDuplicateOf`), never a rejection: in 2021 hotlines saw the
same family registered by a neighbour and a relative, and also two families in one alley
asking for the same rice. Only a person can tell them apart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.sql import status_in
from aidmap.models.need import LIVE_STATUSES

NEARBY_M = 200
WITHIN_DAYS = 7
SIMILAR_TEXT = 0.5  # trigram Jaccard of the normalised title and details


def phone_hash(phone: str, key: bytes) -> str:
    """HMAC-SHA256 of a normalised phone: comparable, but not reversible by hashing every phone number."""
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


def _normalised(value: str) -> str:
    # "Gạo cho gia đình" and "gao cho gia dinh" are the same request typed on two keyboards.
    decomposed = unicodedata.normalize("NFKD", value.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"\w+", plain))


def _trigrams(value: str) -> set[str]:
    grams: set[str] = set()
    for word in _normalised(value).split():
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word trigrams (as pg_trgm does, after removing accents)."""
    left, right = _trigrams(a), _trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


_LIVE = status_in(LIVE_STATUSES)
_SAME_PHONE = text(
    f"""
    SELECT id FROM needs
    WHERE contact_phone_hash = :hash AND id <> :id
      AND {_LIVE}
    ORDER BY created_at DESC LIMIT 1
    """
)
_NEARBY_SAME_CATEGORY = text(
    f"""
    SELECT id, title, coalesce(details, '') AS details FROM needs
    WHERE category = :category AND id <> :id
      AND created_at > now() - interval '{WITHIN_DAYS} days'
      AND {_LIVE}
      AND ST_DWithin(location, (SELECT location FROM needs WHERE id = :id), {NEARBY_M})
    ORDER BY created_at DESC LIMIT 50
    """
)


async def possible_duplicate(
    *, session: AsyncSession, need_id: int, category: str, phone_hash_value: str, title: str, details: str | None
) -> int | None:
    """The id of a live need this new one may duplicate, or None."""
    same_phone = (await session.execute(_SAME_PHONE, {"hash": phone_hash_value, "id": need_id})).scalar()
    if same_phone is not None:
        return int(same_phone)
    mine = f"{title} {details or ''}"
    rows = await session.execute(_NEARBY_SAME_CATEGORY, {"category": category, "id": need_id})
    for other_id, other_title, other_details in rows:
        if similarity(mine, f"{other_title} {other_details}") >= SIMILAR_TEXT:
            return int(other_id)
    return None
