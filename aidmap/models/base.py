"""Declarative base and column helpers shared by the aggregates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geography, Geometry
from sqlalchemy import CheckConstraint, Computed, DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def point_column() -> Mapped[object]:
    """A geography(Point, 4326); its GiST indexes are declared in the migration."""
    return mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=False, deferred=True
    )


def cell_column() -> Mapped[object]:
    """The centre of the point's public ~500 m cell, computed by PostgreSQL (`aidmap_cell`, migration
    0015) from `location`: every public search, order, radius check and score reads this, never the point."""
    return mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False),
        Computed("aidmap_cell(location)", persisted=True),
        deferred=True,
    )


def rank_point_column() -> Mapped[object]:
    """The cell centre nudged by under 6 mm by a hash of the id (`aidmap_rank_point`, migration 0015):
    a strict KNN order for public searches that is still a function of the cell (and the id) alone."""
    return mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False),
        Computed("aidmap_rank_point(location, id)", persisted=True),
        deferred=True,
    )


def latitude_of(location: Mapped[object]) -> Mapped[float]:
    return column_property(func.ST_Y(func.geometry(location, type_=Geometry)))


def longitude_of(location: Mapped[object]) -> Mapped[float]:
    return column_property(func.ST_X(func.geometry(location, type_=Geometry)))


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def enum_check(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    """Enums are stored as text with a CHECK: adding a value is a one-line migration."""
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)
