"""How far a waiting need reaches (aidmap/fairness/reach.py)."""

from __future__ import annotations

import pytest

from aidmap.fairness.reach import extra_km, max_reach_km, reach_km, settings_reach
from aidmap.settings import Settings

HOUR = 3600.0
KW = {"after_seconds": 12 * HOUR, "km_per_hour": 0.5, "max_km": 25.0}


def test_a_need_reaches_the_donors_radius_until_it_has_waited() -> None:
    assert reach_km(5.0, 0.0, False, **KW) == 5.0
    assert reach_km(5.0, 12 * HOUR, False, **KW) == 5.0


def test_it_grows_linearly_after_the_threshold_up_to_the_cap() -> None:
    assert reach_km(5.0, 14 * HOUR, False, **KW) == pytest.approx(6.0)
    assert reach_km(5.0, 22 * HOUR, False, **KW) == pytest.approx(10.0)
    assert reach_km(5.0, 1000 * HOUR, False, **KW) == 25.0


def test_a_pledge_ends_the_growth() -> None:
    assert reach_km(5.0, 100 * HOUR, True, **KW) == 5.0


def test_it_never_shrinks_below_a_donor_radius_larger_than_the_cap() -> None:
    assert reach_km(40.0, 100 * HOUR, False, **KW) == 40.0
    assert max_reach_km(40.0, **KW) == 40.0
    assert max_reach_km(3.0, **KW) == 25.0


def test_steps_quantise_the_growth_down() -> None:
    assert reach_km(5.0, 15.9 * HOUR, False, **KW, step_km=1.0) == pytest.approx(6.0)
    assert reach_km(5.0, 16.0 * HOUR, False, **KW, step_km=1.0) == pytest.approx(7.0)
    assert extra_km(13.9 * HOUR, False, after_seconds=12 * HOUR, km_per_hour=0.5, step_km=1.0) == 0.0


def test_zero_km_per_hour_turns_it_off() -> None:
    assert reach_km(5.0, 1000 * HOUR, False, after_seconds=0.0, km_per_hour=0.0, max_km=25.0) == 5.0


def test_settings_give_the_keyword_arguments() -> None:
    settings = Settings(
        waiting_after_hours=2, waiting_reach_km_per_hour=1.5, waiting_reach_max_km=9, waiting_reach_step_km=0.5
    )
    kwargs = settings_reach(settings)
    assert kwargs == {"after_seconds": 7200.0, "km_per_hour": 1.5, "max_km": 9.0, "step_km": 0.5}
    assert reach_km(1.0, 4 * HOUR, False, **kwargs) == pytest.approx(4.0)
    assert settings_reach(Settings())["after_seconds"] == 12 * HOUR


@pytest.mark.parametrize(
    "field", ["waiting_after_hours", "waiting_reach_km_per_hour", "waiting_reach_max_km", "matching_round_minutes"]
)
def test_negative_or_endless_settings_are_refused(field: str) -> None:
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=field.upper()):
            Settings(**{field: bad})
