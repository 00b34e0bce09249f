"""Pledges: a donor commits a quantity to a need, possibly from one of their offers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    and_,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, enum_check


class PledgeStatus(StrEnum):
    PLEDGED = "PLEDGED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class Pledge(Base):
    __tablename__ = "pledges"
    __table_args__ = (
        enum_check("status", PledgeStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # A collection point's units today are counted from its pledges (resolvers/collection_points.py).
        Index("ix_pledges_collection_point_id", "collection_point_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), nullable=False, index=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"), index=True)
    # Relayed (models/collection_point.py): the donor drops it at this point, and its manager, the
    # carrier, takes it to the requester; NULL for a pledge the donor delivers.
    collection_point_id: Mapped[int | None] = mapped_column(ForeignKey("collection_points.id"))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=PledgeStatus.PLEDGED.value)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # When the need's private fields were released to the donor: at the pledge itself with
    # AIDMAP_DISCLOSE_ON=pledge, when the requester or filer accepts it with accept; NULL until then.
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the donor said "I delivered it" (markDelivered): the requester is asked to confirm; the
    # pledge stays PLEDGED until they do, since only they can say it arrived.
    marked_delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def disclosed_to() -> ColumnElement[int]:
    """Who an active pledge (discloses) shows the need's private fields to: its donor, or for a relayed
    pledge its carrier (the collection point's manager), since that donor's trip ends at the point."""
    return func.coalesce(Pledge.carrier_id, Pledge.donor_id)


def discloses() -> ColumnElement[bool]:
    """The one definition of an "active donor" (models.need.may_see_private): a pledge that is neither
    delivered nor cancelled, and accepted. Deciding it from the row, not from the current setting,
    keeps every reader (GraphQL views, live snapshots, event audiences) on the same answer."""
    return and_(Pledge.status == PledgeStatus.PLEDGED.value, Pledge.accepted_at.is_not(None))


def active_donors_sql(need_id_sql: str) -> str:
    """discloses() as plain SQL for the raw-SQL readers: the array of a need's active donors (or NULL)."""
    query = select(func.array_agg(disclosed_to())).where(Pledge.need_id == literal_column(need_id_sql), discloses())
    compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return f"({compiled})"
