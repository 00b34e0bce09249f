"""Approximate locations: a point snapped to the centre of a fixed grid cell of about 500 m.

The grid is fixed (not randomised per query), so asking many times from many
places returns the same cell and cannot be averaged back to the true point.
"""

from __future__ import annotations

import math

from aidmap.geo.distance import METERS_PER_DEGREE_LAT

CELL_SIZE_M = 500.0
CELL_LAT_DEG = CELL_SIZE_M / METERS_PER_DEGREE_LAT


def _cell_lon_deg(band_center_lat: float) -> float:
    # Cells keep ~500 m east-west by widening in longitude away from the equator.
    return min(360.0, CELL_LAT_DEG / max(math.cos(math.radians(band_center_lat)), 1e-6))


def snap_to_cell(lon: float, lat: float) -> tuple[float, float]:
    """The centre (lon, lat) of the ~500 m grid cell holding the point."""
    row = math.floor((lat + 90.0) / CELL_LAT_DEG)
    center_lat = min(90.0, -90.0 + (row + 0.5) * CELL_LAT_DEG)
    lon_deg = _cell_lon_deg(center_lat)
    col = math.floor((lon + 180.0) / lon_deg)
    west = -180.0 + col * lon_deg
    # The last column of a band is cut short at the antimeridian (cells rarely divide 360 degrees):
    # its centre is the middle of what is left, so it stays inside its own cell.
    center_lon = min(west + lon_deg / 2, (west + 180.0) / 2) if west + lon_deg > 180.0 else west + lon_deg / 2
    return round(center_lon, 6), round(center_lat, 6)


def round_distance(meters: float, step: float = 100.0) -> float:
    """A distance rounded to `step` metres (the public precision)."""
    return float(round(meters / step) * step)
