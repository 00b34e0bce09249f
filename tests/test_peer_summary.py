"""bench/peer.py's summary when a round has no burst under the p99 target (no infinite ratio)."""

from __future__ import annotations

import sys

from aidmap.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import peer  # noqa: E402


def _burst(round_: int, rps: float, p99: float) -> dict[str, float | int]:
    return {
        "round": round_, "concurrency": 4, "rps": rps, "p50_ms": p99 / 3, "p99_ms": p99, "requests": int(rps * 10),
        "server_cpu_ms": 1.0, "postgres_cpu_ms": 0.5, "errors": 0,
    }  # fmt: skip


def test_a_round_without_a_burst_under_the_target_is_left_out_of_the_ratio() -> None:
    bursts = {
        "aidmap": [_burst(0, 600, 20), _burst(1, 500, 30), _burst(2, 550, 25)],
        # The peer misses the target in round 2: it has no rate there, not 0 req/s.
        "peer": [_burst(0, 400, 20), _burst(1, 500, 30), _burst(2, 900, 80)],
    }
    summary = peer.summarize(bursts, (4,), 3)

    assert summary["servers"]["peer"]["best_under_target"] == [400, 500, None]
    ratio = summary["ratios"]["best_under_target"]
    assert ratio == {"median": 1.25, "range": [1.0, 1.5], "excluded_rounds": [2]}

    report = peer.markdown("t", summary, (4,), "")
    assert "inf" not in report
    assert "| peer | 450 (400-500); none under 50 ms in 1 of 3 rounds |" in report
    assert "**1.25x** (1.00-1.50); 1 of 3 rounds left out (a server had no burst under 50 ms: round 3)" in report


def test_no_comparable_round_says_so() -> None:
    bursts = {"aidmap": [_burst(0, 600, 90)], "peer": [_burst(0, 400, 20)]}
    summary = peer.summarize(bursts, (4,), 1)

    assert summary["ratios"]["best_under_target"]["median"] is None
    report = peer.markdown("t", summary, (4,), "")
    assert "| aidmap | none under 50 ms |" in report
    assert "no round where both had a burst under 50 ms" in report
    workers = peer.goals({"ratios": {}, "servers": {}}, summary)
    assert "**not measured**" in workers
