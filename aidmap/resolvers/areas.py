"""Administrative areas: import from GeoJSON, the ward a need's point falls in, and area statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aidmap.db.connect import connect
from aidmap.i18n import msg
from aidmap.models import AdminArea, AreaLevel
from aidmap.problems import Code, Problems
from aidmap.resolvers.accounts import Viewer

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "vn-admin"

_UPSERT = """
INSERT INTO admin_areas (code, name, name_en, full_name, level, parent_code, geom)
VALUES (%(code)s, %(name)s, %(name_en)s, %(full_name)s, %(level)s, %(parent_code)s,
        ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(%(geometry)s), 4326)), 3)))
ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, full_name = excluded.full_name,
    level = excluded.level, parent_code = excluded.parent_code, geom = excluded.geom
"""
# A need's ward is the ward of its public cell's centre, never of its exact point: the ward is
# shown to anyone (Need.ward) and weighs matching rounds, so near a boundary the exact point's ward
# would tell which side of it the person lives. Needs posted before the polygons were known get it now.
WARD_OF_CELL = (
    "(SELECT a.code FROM admin_areas a WHERE a.level = 'ward' AND ST_Covers(a.geom, needs.cell::geometry) "
    "ORDER BY a.code LIMIT 1)"
)
BACKFILL_WARDS = f"UPDATE needs SET ward_code = {WARD_OF_CELL} WHERE ward_code IS NULL"
_WARD_OF_NEED = text(f"UPDATE needs SET ward_code = {WARD_OF_CELL} WHERE id = :need_id")


class AreaFileError(ValueError):
    """The file is not a GeoJSON FeatureCollection of areas."""


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AreaFileError(f"{path}: cannot read GeoJSON ({error})") from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise AreaFileError(f"{path}: expected a GeoJSON FeatureCollection")
    rows = []
    levels = {level.value for level in AreaLevel}
    for number, feature in enumerate(collection.get("features") or [], start=1):
        props = feature.get("properties") or {}
        code, name, level = props.get("code") or feature.get("id"), props.get("name"), props.get("level")
        if not code or not name or level not in levels or not feature.get("geometry"):
            raise AreaFileError(
                f"{path}: feature {number} needs code, name, level ({', '.join(sorted(levels))}) and a geometry"
            )
        rows.append({
            "code": str(code), "name": name, "name_en": props.get("nameEn"), "full_name": props.get("fullName"),
            "level": level, "parent_code": props.get("parentCode"), "geometry": json.dumps(feature["geometry"]),
        })  # fmt: skip
    return rows


def import_files(url: str, paths: list[Path]) -> int:
    """Upsert every area of the files (all or nothing) and give waiting needs their ward; returns the count."""
    rows = [row for path in paths for row in _rows(path)]
    with connect(url) as conn:
        with conn.cursor() as cursor:
            cursor.executemany(_UPSERT, rows)
        conn.execute(BACKFILL_WARDS)
    return len(rows)


def areas_are_empty(url: str) -> bool:
    with connect(url) as conn:
        return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM admin_areas)").fetchone() == (True,)


async def assign_ward(*, session: AsyncSession, need_id: int) -> None:
    """Set the need's ward by point-in-polygon in PostGIS (none when no imported ward covers it)."""
    await session.execute(_WARD_OF_NEED, {"need_id": need_id})


async def get_many(*, session: AsyncSession, codes: list[str]) -> list[AdminArea]:
    return list((await session.execute(select(AdminArea).where(AdminArea.code.in_(codes)))).scalars())


@dataclass(frozen=True)
class AreaStats:
    counts: list[tuple[str, str, int]]  # (category, status, needs)
    people_helped: int
    median_seconds_to_first_pledge: float | None


_SCOPED = """
WITH RECURSIVE area(code) AS (
    SELECT code FROM admin_areas WHERE code = :code
    UNION SELECT a.code FROM admin_areas a JOIN area ON a.parent_code = area.code
), scoped AS (SELECT * FROM needs WHERE ward_code IN (SELECT code FROM area))
"""


async def stats(*, session: AsyncSession, viewer: Viewer, code: str) -> tuple[AdminArea, AreaStats]:
    """Needs of an area (and every area in it) by category and status, people helped, and the
    median time from posting to the first pledge: for admins and the area's verifiers."""
    area = await session.get(AdminArea, code)
    if area is None:
        raise Problems.one("areaCode", msg("No area has this code."), Code.NOT_FOUND)
    if not (viewer.is_admin or code in viewer.verifier_wards):
        raise Problems.one(
            "areaCode", msg("Only admins and verifiers of this area see its statistics."), Code.FORBIDDEN
        )
    counts = await session.execute(
        text(_SCOPED + "SELECT category, status, count(*) FROM scoped GROUP BY 1, 2 ORDER BY 1, 2"), {"code": code}
    )
    # A household counts as its size (1 when not given) once anything was delivered to it.
    people = await session.execute(
        text(_SCOPED + "SELECT coalesce(sum(coalesce(household_size, 1)), 0) FROM scoped WHERE quantity_delivered > 0"),
        {"code": code},
    )
    median = await session.execute(
        text(
            _SCOPED
            + """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_pledge - created_at))
            FROM (SELECT n.created_at, min(p.created_at) AS first_pledge
                  FROM scoped n JOIN pledges p ON p.need_id = n.id GROUP BY n.id, n.created_at) AS firsts"""
        ),
        {"code": code},
    )
    seconds = median.scalar()
    return area, AreaStats(
        counts=[(c, s, int(n)) for c, s, n in counts],
        people_helped=int(people.scalar_one()),
        median_seconds_to_first_pledge=float(seconds) if seconds is not None else None,
    )


MAX_OUTLINES = 300
# ~30 m: enough for a city map on a phone, and a ward outline stays a few hundred points.
SIMPLIFY_DEGREES = 0.0003

_OUTLINES = """
    SELECT code, name, name_en, full_name, level, {outline} AS outline
    FROM admin_areas
    WHERE level = :level
      AND geom && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :degrees)
      AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
    ORDER BY code LIMIT :limit
"""
# The outline only when it is asked for: simplifying and encoding each one was most of the work of a
# list of ward codes.
_WITH_OUTLINES = text(_OUTLINES.format(outline="ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tolerance), 5)"))
_WITHOUT_OUTLINES = text(_OUTLINES.format(outline="NULL::text"))


async def outlines(
    *, session: AsyncSession, lat: float, lon: float, radius_m: float, level: str, with_outline: bool = True
) -> list[Row[Any]]:
    """Areas of a level within radius_m of a point, with simplified GeoJSON outlines (the map's base
    layer; `outline` is None unless with_outline): rows of code, name, name_en, full_name, level,
    outline, not ORM objects (up to 300 per call)."""
    # A bounding box first (index), then the exact distance; one degree of latitude is ~111 km.
    degrees = radius_m / 111_000 * 2
    rows = await session.execute(
        _WITH_OUTLINES if with_outline else _WITHOUT_OUTLINES,
        {
            "lat": lat, "lon": lon, "radius": radius_m, "degrees": degrees, "level": level,
            "tolerance": SIMPLIFY_DEGREES, "limit": MAX_OUTLINES,
        },
    )  # fmt: skip
    return list(rows)
