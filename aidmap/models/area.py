"""Administrative areas: provinces and wards (phường / xã), with their polygons."""

from __future__ import annotations

from enum import StrEnum

from geoalchemy2 import Geometry
from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, enum_check


class AreaLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    WARD = "ward"


class AdminArea(Base):
    __tablename__ = "admin_areas"
    __table_args__ = (enum_check("level", AreaLevel, "level"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_en: Mapped[str | None] = mapped_column(Text)
    full_name: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[object] = mapped_column(
        Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False, deferred=True
    )
