"""The latency timeline of a load run: p99 per 100 ms window, and the windows
that missed the target, named."""

from __future__ import annotations

from bench.timeline import p99_by_window, summary


def test_each_window_has_its_own_p99() -> None:
    timeline = {0: [1_000.0] * 99 + [40_000.0], 1: [900.0] * 200, -1: [5.0]}  # µs
    assert p99_by_window(timeline) == [(0.0, 1.0), (0.1, 0.9)]  # warm-up (-1) left out


def test_a_stall_is_counted_and_named_with_its_round_and_time() -> None:
    calm = {w: [1_000.0] * 100 for w in range(10)}
    stalled = {**calm, 7: [1_000.0] * 90 + [30_000.0] * 10}
    lines = summary({"echo": [{"timeline": calm}],
                     "engine": [{"timeline": calm}, {"timeline": stalled}]})
    engine = next(line for line in lines if line.startswith("| Ondo engine"))
    assert "| 20 | 1 (5.0%) |" in engine
    assert "round 2 0.7: 30.0" in engine
    echo = next(line for line in lines if line.startswith("| A: bare echo"))
    assert "| 10 | 0 (0.0%) |" in echo
