"""How far a need reaches: the distance within which a donor sees it.

A need reaches as far as the donor's own radius (the base: an offer's radius, a subscription's
circle, instant help's search radius). Once it has waited `after_seconds` with nothing pledged, it
reaches further, `km_per_hour` more each hour, quantised down to whole `step_km` (so live events
and suggestions change in steps, not every second), up to `max_km` (never below the base): needs
in poor or remote wards, far from donors, get seen by donors farther away. The first pledge ends
the growth (the need is no longer waiting unseen).

The distance compared with the reach is always cell to cell (aidmap/geo/privacy.py), and the
reach itself depends only on public facts (when the need was posted, whether anything is
pledged), so what a donor sees is a function of the public record alone.
"""

from __future__ import annotations

import math
from typing import Any

# Defaults of the AIDMAP_WAITING_* settings (aidmap/settings.py).
AFTER_HOURS = 12.0
KM_PER_HOUR = 0.5
MAX_KM = 25.0
STEP_KM = 1.0


def extra_km(
    waited_seconds: float, pledged: bool, *, after_seconds: float, km_per_hour: float, step_km: float = 0.0
) -> float:
    """How much farther than the base a need reaches (0 when not waiting), before the cap."""
    if pledged or km_per_hour <= 0 or not waited_seconds > after_seconds:
        return 0.0
    grown = km_per_hour * (waited_seconds - after_seconds) / 3600.0
    if step_km > 0:
        grown = math.floor(grown / step_km + 1e-9) * step_km
    return grown


def capped(base_km: float, extra: float, *, max_km: float) -> float:
    """The reach of a need grown by `extra` km for a donor whose own radius is `base_km` (any unit,
    the same for all three)."""
    if extra <= 0:
        return base_km
    return max(base_km, min(max_km, base_km + extra))


def reach_km(
    base_km: float,
    waited_seconds: float,
    pledged: bool,
    *,
    after_seconds: float,
    km_per_hour: float,
    max_km: float,
    step_km: float = 0.0,
) -> float:
    """The radius (km) within which a donor whose own radius is `base_km` sees the need."""
    extra = extra_km(waited_seconds, pledged, after_seconds=after_seconds, km_per_hour=km_per_hour, step_km=step_km)
    return capped(base_km, extra, max_km=max_km)


def max_reach_km(base_km: float, *, max_km: float, **_: Any) -> float:
    """The farthest any need can reach a donor with this base: the bound for candidate searches."""
    return max(base_km, max_km)


def max_reach_m(settings: Any) -> float:
    """The cap of a waiting need's reach in metres, 0 when waiting needs do not reach further."""
    kwargs = settings_reach(settings)
    return kwargs["max_km"] * 1000.0 if kwargs["km_per_hour"] > 0 else 0.0


def settings_reach(settings: Any) -> dict[str, float]:
    """The keyword arguments of `reach_km` from aidmap settings (AIDMAP_WAITING_AFTER_HOURS,
    AIDMAP_WAITING_REACH_KM_PER_HOUR, AIDMAP_WAITING_REACH_MAX_KM, AIDMAP_WAITING_REACH_STEP_KM)."""
    return {
        "after_seconds": float(getattr(settings, "waiting_after_hours", AFTER_HOURS)) * 3600.0,
        "km_per_hour": float(getattr(settings, "waiting_reach_km_per_hour", KM_PER_HOUR)),
        "max_km": float(getattr(settings, "waiting_reach_max_km", MAX_KM)),
        "step_km": float(getattr(settings, "waiting_reach_step_km", STEP_KM)),
    }
