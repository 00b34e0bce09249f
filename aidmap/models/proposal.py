"""Match proposals: a pledge a matching round proposes to an offer's donor, who accepts or declines it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column, enum_check


class ProposalStatus(StrEnum):
    PROPOSED = "PROPOSED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    LAPSED = "LAPSED"  # not answered in time, or the offer or need moved on


class MatchProposal(Base):
    __tablename__ = "match_proposals"
    __table_args__ = (
        enum_check("status", ProposalStatus, "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # A pair is proposed once: declined or lapsed, it is not proposed again.
        Index("uq_match_proposals_offer_id_need_id", "offer_id", "need_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), nullable=False)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), nullable=False, index=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    # Through a collection point within the donor's radius (aidmap.fairness.matching.RelaySlot), or direct.
    collection_point_id: Mapped[int | None] = mapped_column(ForeignKey("collection_points.id"))
    # The round's weight of the pair (aidmap.fairness.matching.pair_weight: score total + fairness weight x
    # fairness + area weight x ward deficit, damped beyond the radius), computed cell to cell.
    score: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=ProposalStatus.PROPOSED.value)
    # The pledge made when the donor accepted.
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
