"""How well an offer fits a need: a score in [0, 1] with its parts, so a person can see why.

    score = 0.35 * distance + 0.20 * urgency + 0.15 * waiting + 0.15 * quantity + 0.15 * fairness

- distance: 1 at the same place, 0 at the edge of the donor's travel radius.
- urgency:  LOW 0.25, NORMAL 0.5, HIGH 0.75, CRITICAL 1.
- waiting:  hours since the need was posted, over 72 h (capped at 1): who waited longer comes first.
- quantity: the share of what is still needed that the offer can cover.
- fairness: 1 / (1 + help the beneficiary received in the last 30 days, in delivered pledges):
            people not yet helped come before people helped several times. The beneficiary is the
            person the need is for (aidmap.fairness.beneficiary_key): the claimed account, else the
            person's phone, else the need, never the account that filed it (a hotline operator
            files for many households).
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHTS = {"distance": 0.35, "urgency": 0.20, "waiting": 0.15, "quantity": 0.15, "fairness": 0.15}
URGENCY = {"LOW": 0.25, "NORMAL": 0.5, "HIGH": 0.75, "CRITICAL": 1.0}
WAITING_FULL_HOURS = 72.0


@dataclass(frozen=True)
class ScoreParts:
    distance: float
    urgency: float
    waiting: float
    quantity: float
    fairness: float

    @property
    def total(self) -> float:
        return sum(WEIGHTS[name] * getattr(self, name) for name in WEIGHTS)


def score(
    *,
    distance_m: float,
    radius_m: float,
    urgency: str,
    waiting_hours: float,
    still_needed: int,
    can_give: int,
    help_received: int,
) -> ScoreParts:
    return ScoreParts(
        distance=max(0.0, 1.0 - distance_m / radius_m) if radius_m > 0 else 0.0,
        urgency=URGENCY.get(urgency, 0.5),
        waiting=min(1.0, max(0.0, waiting_hours) / WAITING_FULL_HOURS),
        quantity=min(1.0, can_give / still_needed) if still_needed > 0 else 0.0,
        fairness=1.0 / (1.0 + max(0, help_received)),
    )
