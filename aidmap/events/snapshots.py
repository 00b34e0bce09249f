"""What a need or offer looks like after an event, read once per process and shared by all its subscribers.

Without this, an event that 5,000 subscribers in one circle should see costs 5,000 reads of
the same row; with it, one. Only the viewer-specific part (may this person see the exact
point?) is decided per subscriber, from the snapshot's list of active donors.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aidmap.bounded import BoundedDict
from aidmap.db.reader import Reader, located_columns
from aidmap.models import Offer, need_fields
from aidmap.models.need import Principal
from aidmap.models.pledge import active_donors_sql
from aidmap.models.projection import NeedProjection, project_need

# Only what a need's API view is built from (models/need_fields.py, VIEW_COLUMNS): a snapshot is
# held while its event fans out, and a narrower row keeps that memory small.
_NEED_SQL = f"""
SELECT {need_fields.select_list("n")},
       coalesce({active_donors_sql("n.id")}, '{{}}') AS active_donors
FROM needs n WHERE n.id = %(id)s::bigint
"""
_OFFER_SQL = f"""
SELECT {located_columns(Offer.__table__, "o")}
FROM offers o WHERE o.id = %(id)s::bigint
"""


@dataclass(frozen=True)
class NeedSnapshot:
    row: Any
    active_donors: frozenset[int]

    def project(self, who: Principal) -> NeedProjection:
        """What they may see of it (models/projection.py), active donors taken from the snapshot."""
        return project_need(who, self.row, active_donor=who.account_id in self.active_donors)


class Snapshots:
    # A snapshot is needed while its event fans out (seconds); a subscriber replaying older events
    # reads them again. 4,096 kept ~10 MB of rows that a 10-minute soak saw as memory growth.
    def __init__(self, reader: Reader, *, keep: int = 512) -> None:
        self._reader = reader
        self._loads: BoundedDict[tuple[str, int], asyncio.Future[Any]] = BoundedDict(keep)
        self.reads = 0  # how many rows were actually read (for tests and the fan-out benchmark)

    async def need(self, seq: int, need_id: int) -> NeedSnapshot | None:
        row = await self._shared(("need", seq), _NEED_SQL, need_id)
        return NeedSnapshot(row=row, active_donors=frozenset(row.active_donors)) if row is not None else None

    async def offer(self, seq: int, offer_id: int) -> Any:
        return await self._shared(("offer", seq), _OFFER_SQL, offer_id)

    async def _shared(self, key: tuple[str, int], sql: str, ident: int) -> Any:
        load = self._loads.get(key)
        if load is not None and load.done():
            return load.result()  # the common case: another subscriber already read it
        if load is None:
            load = asyncio.ensure_future(self._read(sql, ident))
            self._loads[key] = load
        return await asyncio.shield(load)

    async def _read(self, sql: str, ident: int) -> Any:
        self.reads += 1
        rows = await self._reader.fetch(sql, {"id": ident})
        return rows[0] if rows else None
