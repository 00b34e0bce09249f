"""In-memory R-tree indexes (the `rtree` package) over (lon, lat) boxes, keyed by plain integer ids.

Ids only, no stored objects: rtree's object mode pickles every entry and is ~100x slower.
`delete` needs the exact box an entry was inserted with, so each index keeps it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

from rtree import index

from aidmap.geo.distance import METERS_PER_DEGREE_LAT

Box = tuple[float, float, float, float]  # (min lon, min lat, max lon, max lat)


def circle_box(lon: float, lat: float, radius_m: float) -> Box:
    """A box that holds the circle; the whole longitude range near the poles or across the antimeridian."""
    d_lat = radius_m / METERS_PER_DEGREE_LAT
    min_lat, max_lat = max(-90.0, lat - d_lat), min(90.0, lat + d_lat)
    widest = max(abs(min_lat), abs(max_lat))
    cos_lat = math.cos(math.radians(widest))
    if cos_lat < 1e-6:
        return (-180.0, min_lat, 180.0, max_lat)
    d_lon = d_lat / cos_lat
    if lon - d_lon < -180.0 or lon + d_lon > 180.0:
        return (-180.0, min_lat, 180.0, max_lat)
    return (lon - d_lon, min_lat, lon + d_lon, max_lat)


class BoxIndex:
    """Integer ids with boxes; which boxes contain a point, which are nearest to one."""

    def __init__(self, entries: Iterable[tuple[int, Box]] = ()) -> None:
        self._boxes: dict[int, Box] = {}
        items = iter(entries)
        first = next(items, None)
        if first is None:
            self._tree = index.Index()
            return

        def stream() -> Iterator[tuple[int, Box, None]]:
            for ident, box in itertools.chain([first], items):
                self._boxes[ident] = box
                yield ident, box, None

        # Stream (bulk) loading packs the tree in one pass: much faster than repeated insert.
        self._tree = index.Index(stream())

    def __len__(self) -> int:
        return len(self._boxes)

    def __contains__(self, ident: int) -> bool:
        return ident in self._boxes

    def insert(self, ident: int, box: Box) -> None:
        if ident in self._boxes:
            self.delete(ident)
        self._boxes[ident] = box
        self._tree.insert(ident, box)

    def delete(self, ident: int) -> None:
        box = self._boxes.pop(ident, None)
        if box is not None:
            self._tree.delete(ident, box)

    def containing(self, lon: float, lat: float) -> list[int]:
        """Ids whose box contains the point."""
        return list(self._tree.intersection((lon, lat, lon, lat)))

    def within(self, box: Box) -> list[int]:
        """Ids whose box intersects `box`."""
        return list(self._tree.intersection(box))

    def count(self, box: Box) -> int:
        """How many boxes intersect `box` (counted inside the tree, no ids built)."""
        return int(self._tree.count(box))

    def nearest(self, lon: float, lat: float, k: int) -> list[int]:
        """The k ids nearest the point in degree space (a candidate list: re-rank by true distance)."""
        return list(self._tree.nearest((lon, lat, lon, lat), k))
