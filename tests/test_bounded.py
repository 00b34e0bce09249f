"""aidmap.bounded.BoundedDict: the bound every in-process cache relies on."""

from __future__ import annotations

from aidmap.bounded import BoundedDict


def test_setting_makes_an_entry_newest_and_drops_the_oldest_beyond_the_bound() -> None:
    cache: BoundedDict[str, int] = BoundedDict(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 3  # set again: now the newest
    cache["c"] = 4
    assert list(cache.items()) == [("a", 3), ("c", 4)]
    assert cache.get("b") is None and cache["a"] == 3  # reading does not reorder
    cache["d"] = 5
    assert list(cache) == ["c", "d"]
