"""Writes the access log of private need fields in small batches, off the request path.

A resolver that hands out an exact location or a phone number records it here without
waiting; a background task inserts what accumulated every `interval` seconds (one
statement per batch). Reads by the requester themself are not logged; reads through a partner
key name the partner too (a key acting for nobody names only the partner).
"""

from __future__ import annotations

import logging

from aidmap.db.reader import Reader
from aidmap.jobs.periodic import PeriodicJob
from aidmap.models.location_read import PrivateField, ReadChannel

log = logging.getLogger(__name__)

_INSERT = """
INSERT INTO location_reads (need_id, reader_id, partner_id, field, channel)
SELECT * FROM unnest(%(needs)s::bigint[], %(readers)s::bigint[], %(partners)s::bigint[], %(fields)s::text[],
                     %(channels)s::text[])
"""


class AccessLog:
    def __init__(self, reader: Reader, *, interval: float = 0.2) -> None:
        self._reader = reader
        self._pending: list[tuple[int, int | None, int | None, str, str]] = []
        self._job = PeriodicJob(name="aidmap-access-log", step=self.flush, interval_s=interval, on_error=_flush_failed)

    def record(
        self,
        *,
        need_id: int,
        reader_id: int | None,
        field: PrivateField,
        partner_id: int | None = None,
        channel: ReadChannel = ReadChannel.API,
    ) -> None:
        self._pending.append((need_id, reader_id, partner_id, field.value, channel.value))

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        needs, readers, partners, fields, channels = (list(column) for column in zip(*batch, strict=True))
        values = {"needs": needs, "readers": readers, "partners": partners, "fields": fields, "channels": channels}
        try:
            await self._reader.execute(_INSERT, values)
        except Exception:
            self._pending = batch + self._pending  # keep them for the next try
            raise

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
        try:
            await self.flush()
        except Exception:
            log.exception("could not write the last %d location reads at shutdown", len(self._pending))


def _flush_failed(error: Exception) -> None:
    log.exception("could not write the location access log; will retry")
