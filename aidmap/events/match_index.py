"""The live match index: open needs and active offers in per-category R-trees, per process.

It holds public cells, never exact points (events carry only the cell, see events/outbox.py):
every candidate it proposes, and so every suggestion and its score, depends on the cell alone.

Bulk-loaded from PostGIS at start (streamed, one pass) and kept current by the event
stream. It only proposes candidates quickly; PostGIS stays the source of truth, and
the suggestion resolvers re-read and re-check every candidate there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from aidmap.db.connect import connect
from aidmap.db.sql import status_in, status_is
from aidmap.events.fanout import NEED_KINDS, OFFER_KINDS, LiveEvent
from aidmap.fairness.reach import capped
from aidmap.geo.distance import haversine_m
from aidmap.geo.index import BoxIndex, circle_box
from aidmap.models.need import OPEN_STATUSES
from aidmap.models.offer import OfferStatus

log = logging.getLogger(__name__)

_OPEN = {s.value for s in OPEN_STATUSES}


class MatchIndex:
    def __init__(self) -> None:
        self._needs: dict[str, BoxIndex] = {}  # category -> need points
        self._offers: dict[str, BoxIndex] = {}  # category -> offer circles (their travel radius)
        self._need_points: dict[int, tuple[str, float, float]] = {}
        self._offer_circles: dict[int, tuple[str, float, float, float]] = {}
        # Waiting needs (nothing pledged, reach announced by the waiting job): category -> points, and
        # how much farther than a donor's radius each reaches (metres).
        self._waiting: dict[str, BoxIndex] = {}
        self._waiting_reach: dict[int, float] = {}

    # -- loading -----------------------------------------------------------------
    def load(self, url: str) -> None:
        """Bulk-load every open need and active offer from PostGIS (server-side cursors, stream loading)."""
        started = time.perf_counter()
        with connect(url) as conn:
            needs: dict[str, list[tuple[int, float, float]]] = {}
            with conn.cursor(name="match_index_needs") as cursor:
                cursor.execute(
                    "SELECT id, category, ST_X(geometry(cell)), ST_Y(geometry(cell)), status, waiting_reach_m "
                    "FROM needs WHERE " + status_in(OPEN_STATUSES)
                )
                waiting: dict[str, list[tuple[int, float, float]]] = {}
                for ident, category, lon, lat, status, reach in cursor:
                    needs.setdefault(category, []).append((ident, lon, lat))
                    self._need_points[ident] = (category, lon, lat)
                    if status == "OPEN" and reach > 0:
                        waiting.setdefault(category, []).append((ident, lon, lat))
                        self._waiting_reach[ident] = reach
            offers: dict[str, list[tuple[int, float, float, float]]] = {}
            with conn.cursor(name="match_index_offers") as cursor:
                cursor.execute(
                    "SELECT id, category, ST_X(geometry(cell)), ST_Y(geometry(cell)), radius_meters "
                    "FROM offers WHERE " + status_is(OfferStatus.ACTIVE) + " AND available_until > now()"
                )
                for ident, category, lon, lat, radius in cursor:
                    offers.setdefault(category, []).append((ident, lon, lat, radius))
                    self._offer_circles[ident] = (category, lon, lat, radius)
        self._needs = {c: BoxIndex(_point_entries(rows)) for c, rows in needs.items()}
        self._waiting = {c: BoxIndex(_point_entries(rows)) for c, rows in waiting.items()}
        self._offers = {c: BoxIndex(_circle_entries(rows)) for c, rows in offers.items()}
        log.info(
            "match index: %d needs, %d offers loaded in %.2fs",
            len(self._need_points), len(self._offer_circles), time.perf_counter() - started,
        )  # fmt: skip

    # -- keeping current -----------------------------------------------------------
    def apply(self, event: LiveEvent) -> None:
        """Follow one committed event (a FanOut sink)."""
        if event.need_id is not None and event.kind in NEED_KINDS:
            self._drop_need(event.need_id)
            if event.status in _OPEN and event.lon is not None and event.lat is not None and event.category:
                self._put_need(event.need_id, event.category, event.lon, event.lat)
                if event.status == "OPEN" and event.radius_m:
                    self._waiting_reach[event.need_id] = event.radius_m
                    self._waiting.setdefault(event.category, BoxIndex()).insert(
                        event.need_id, (event.lon, event.lat, event.lon, event.lat)
                    )
        elif event.offer_id is not None and event.kind in OFFER_KINDS:
            self._drop_offer(event.offer_id)
            if event.status == "ACTIVE" and event.lon is not None and event.lat is not None and event.category:
                self._put_offer(event.offer_id, event.category, event.lon, event.lat, event.radius_m or 0.0)

    def _put_need(self, ident: int, category: str, lon: float, lat: float) -> None:
        self._need_points[ident] = (category, lon, lat)
        self._needs.setdefault(category, BoxIndex()).insert(ident, (lon, lat, lon, lat))

    def _drop_need(self, ident: int) -> None:
        known = self._need_points.pop(ident, None)
        if known is not None:
            self._needs[known[0]].delete(ident)
            if self._waiting_reach.pop(ident, None) is not None:
                self._waiting[known[0]].delete(ident)

    def _put_offer(self, ident: int, category: str, lon: float, lat: float, radius: float) -> None:
        self._offer_circles[ident] = (category, lon, lat, radius)
        self._offers.setdefault(category, BoxIndex()).insert(ident, circle_box(lon, lat, radius))

    def _drop_offer(self, ident: int) -> None:
        known = self._offer_circles.pop(ident, None)
        if known is not None:
            self._offers[known[0]].delete(ident)

    # -- candidates -------------------------------------------------------------------
    def offers_reaching(self, category: str, lon: float, lat: float) -> list[int]:
        """Active offers of the category whose donor's travel circle holds the point."""
        tree = self._offers.get(category)
        if tree is None:
            return []
        found = []
        for ident in tree.containing(lon, lat):
            _, o_lon, o_lat, radius = self._offer_circles[ident]
            if haversine_m(o_lon, o_lat, lon, lat) <= radius:
                found.append(ident)
        return found

    def needs_within(self, category: str, lon: float, lat: float, radius_m: float) -> list[int]:
        """Open needs of the category within radius_m of the point."""
        tree = self._needs.get(category)
        if tree is None:
            return []
        found = []
        for ident in tree.within(circle_box(lon, lat, radius_m)):
            _, n_lon, n_lat = self._need_points[ident]
            if haversine_m(lon, lat, n_lon, n_lat) <= radius_m:
                found.append(ident)
        return found

    def need_point(self, ident: int) -> tuple[float, float]:
        """The cell (lon, lat) of an indexed need."""
        _, lon, lat = self._need_points[ident]
        return lon, lat

    def waiting_needs_within(
        self, category: str, lon: float, lat: float, radius_m: float, *, max_reach_m: float
    ) -> list[int]:
        """Waiting needs of the category that reach a donor at the point whose radius is radius_m,
        beyond that radius (their reach capped at max_reach_m; aidmap/fairness/reach.py)."""
        tree = self._waiting.get(category)
        if tree is None or max_reach_m <= radius_m:
            return []
        found = []
        for ident in tree.within(circle_box(lon, lat, max_reach_m)):
            _, n_lon, n_lat = self._need_points[ident]
            distance = haversine_m(lon, lat, n_lon, n_lat)
            if radius_m < distance <= capped(radius_m, self._waiting_reach[ident], max_km=max_reach_m):
                found.append(ident)
        return found

    def offers_reached_by(
        self, category: str, lon: float, lat: float, extra_m: float, *, max_reach_m: float
    ) -> list[int]:
        """Active offers a waiting need at the point reaches beyond their radius (see waiting_needs_within)."""
        tree = self._offers.get(category)
        if tree is None or extra_m <= 0:
            return []
        found = []
        for ident in tree.within(circle_box(lon, lat, min(extra_m, max_reach_m))):
            _, o_lon, o_lat, radius = self._offer_circles[ident]
            distance = haversine_m(o_lon, o_lat, lon, lat)
            if radius < distance <= capped(radius, extra_m, max_km=max_reach_m):
                found.append(ident)
        return found

    def count_needs_near(self, category: str, lon: float, lat: float, radius_m: float) -> int:
        """About how many open needs of the category are within radius_m (those in its bounding box)."""
        tree = self._needs.get(category)
        return 0 if tree is None else tree.count(circle_box(lon, lat, radius_m))

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self._need_points), len(self._offer_circles)


def _point_entries(rows: list[tuple[int, float, float]]) -> Iterator[tuple[int, tuple[float, float, float, float]]]:
    for ident, lon, lat in rows:
        yield ident, (lon, lat, lon, lat)


def _circle_entries(
    rows: list[tuple[int, float, float, float]],
) -> Iterator[tuple[int, tuple[float, float, float, float]]]:
    for ident, lon, lat, radius in rows:
        yield ident, circle_box(lon, lat, radius)
