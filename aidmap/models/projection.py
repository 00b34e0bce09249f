"""What one viewer may see of a need: the one projection every output is built from.

The GraphQL types, live events, webhook payloads and exports all start from `project_need`,
so the decision "show the exact point and the phone, or only the cell" is made here and
nowhere else, and a new output that starts from a projection cannot forget it. A projection
that carries private fields says so (`private`), so whoever hands it out can log the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aidmap.geo.privacy import snap_to_cell
from aidmap.models.need import Principal, may_see_need, may_see_private, privacy_facts


@dataclass(frozen=True, slots=True)
class NeedProjection:
    need: Any  # the row or model it was made from (a Need, or a row with the same column names)
    # False for a hidden need (pending verification, under review, rejected) to anyone but those in
    # charge of it: searches, look-ups by id, live events and webhooks then leave it out.
    visible: bool
    # The public cell's centre (lon, lat): what everyone gets.
    approximate: tuple[float, float]
    # Set only for viewers who may see them (models.need.may_see_private).
    exact: tuple[float, float] | None
    contact_phone: str | None

    @property
    def private(self) -> bool:
        return self.exact is not None


# Every column project_need reads of a need (privacy_facts' and the status, the exact point it
# snaps to the public cell, the phone): what a query must select to make a projection.
PROJECTION_COLUMNS = ("owner_id", "filed_by_id", "ward_code", "partner_id", "status", "contact_phone", "lat", "lon")


def project_need(who: Principal, need: Any, *, active_donor: bool) -> NeedProjection:
    """The need as `who` may see it (`active_donor`: they have a pledge on it that discloses)."""
    facts = privacy_facts(need, active_donor=active_donor)
    private = may_see_private(who, **facts)
    return NeedProjection(
        need=need,
        visible=may_see_need(who, status=need.status, **facts),
        approximate=snap_to_cell(need.lon, need.lat),
        exact=(need.lon, need.lat) if private else None,
        contact_phone=need.contact_phone if private else None,
    )


def reads_to_log(who: Principal, projection: NeedProjection) -> bool:
    """Whether handing out this projection is a read the requester sees in `Need.locationReads`:
    any private read but the requester's own (partner keys and webhook deliveries included)."""
    return projection.private and who.account_id != projection.need.owner_id
