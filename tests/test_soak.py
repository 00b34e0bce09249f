"""A short soak in every test run (the 10-minute one is `make soak`): mixed load with open subscriptions,
no errors, no lost subscribers, events delivered, memory flat after warm-up."""

from __future__ import annotations

import sys

import pytest

from aidmap.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import soak  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_short_soak(database_url: str) -> None:
    report = soak.soak(seconds=10, subscribers=50, workers=4, warmup=3, database_url=database_url)

    assert report.requests > 100
    assert report.errors == 0, report.error_samples
    assert report.subscribers_lost == 0
    assert report.events_delivered > 0
    assert set(report.by_kind) == {"read", "create", "update", "pledge"}
    assert report.memory_growth <= 0.10, (report.rss_after_warmup_kib, report.rss_end_kib)
