"""Messages between the requester and the donor of one pledge."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from aidmap.models.base import Base, created_at_column


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), nullable=False, index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    body: Mapped[str] = mapped_column(String(2000), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
