"""How served each area (ward) is, against the whole deployment: the deficit a matching round weighs.

Counting help per beneficiary (aidmap.fairness.beneficiary_key) makes a round fair between
households it can reach, but donors live in a few central wards: near needs are many, so a
round that only sees households fills them first and a remote ward stays unserved. A round
therefore also weighs each need by how served its ward has been lately:

    share(ward)   = (helped + PRIOR_NEEDS * city) / (needs + PRIOR_NEEDS)
    deficit(ward) = max(0, 1 - share(ward) / city)            in [0, 1]

over the needs posted in the ward in a recent window (AIDMAP_FAIRNESS_AREA_DAYS) and those of
them fully pledged or delivered ("helped"), with city the same share over all wards. The prior
pulls a ward with few needs towards the city's share, so one unlucky need does not make a ward
look abandoned. A ward served as well as the city or better has deficit 0; one where nothing was
helped, close to 1.

Only public facts go in: a need's ward is public (`Need.ward`), and the counts are per ward, so
a deficit says nothing about any one need's point.
"""

from __future__ import annotations

import math

PRIOR_NEEDS = 5.0
# Defaults of AIDMAP_MATCHING_AREA_WEIGHT, AIDMAP_MATCHING_AREA_REACH_KM and AIDMAP_FAIRNESS_AREA_DAYS.
AREA_WEIGHT = 3.0
AREA_REACH_KM = 10.0
AREA_DAYS = 7.0
BEYOND_DECAY = 1.0  # AIDMAP_MATCHING_BEYOND_RADIUS_DECAY


def area_deficits(
    needs_by_area: dict[str, int], helped_by_area: dict[str, int], *, prior_needs: float = PRIOR_NEEDS
) -> dict[str, float]:
    """The deficit of each area with needs (see the module); {} while nothing at all was helped
    (every ward is then as served as the city: there is nothing to even out yet)."""
    total = sum(n for n in needs_by_area.values() if n > 0)
    helped = sum(min(helped_by_area.get(a, 0), n) for a, n in needs_by_area.items() if n > 0)
    if total <= 0 or helped <= 0:
        return {}
    city = helped / total
    deficits = {}
    for area, n in needs_by_area.items():
        if n <= 0:
            continue
        h = min(max(0, helped_by_area.get(area, 0)), n)
        share = (h + prior_needs * city) / (n + prior_needs)
        deficits[area] = max(0.0, min(1.0, 1.0 - share / city))
    return deficits


def area_extra_km(deficit: float, area_reach_km: float) -> float:
    """How much farther than a donor's radius a need of an area with this deficit reaches in a
    matching round: deficit × area_reach_km, in whole km (so it moves in steps, not with every pledge)."""
    if deficit <= 0 or area_reach_km <= 0:
        return 0.0
    return float(math.floor(deficit * area_reach_km + 1e-9))


def settings_area(settings: object) -> dict[str, float]:
    """The area keyword arguments of aidmap.fairness.matching.propose from aidmap settings
    (AIDMAP_MATCHING_AREA_WEIGHT, AIDMAP_MATCHING_AREA_REACH_KM)."""
    return {
        "area_weight": float(getattr(settings, "matching_area_weight", AREA_WEIGHT)),
        "area_reach_km": float(getattr(settings, "matching_area_reach_km", AREA_REACH_KM)),
        "beyond_decay": float(getattr(settings, "matching_beyond_radius_decay", BEYOND_DECAY)),
    }
