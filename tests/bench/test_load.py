"""The load harness itself: a short real run against a real engine (and the
echo reference) accounts for every event it sent."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.histogram import Histogram
from bench.load import ORIGIN, drive, server
from bench.workload import site_file
from engine.runtime.embedded import EmbeddedRedis, free_port


def test_histogram_percentiles() -> None:
    h = Histogram()
    for micros in range(1, 1001):
        h.record(micros)
    assert 480 <= h.percentile(50) <= 520
    assert 970 <= h.percentile(99) <= 1000
    assert h.max_us == 1000 and h.total == 1000


def test_a_short_run_counts_every_event(redis_server: EmbeddedRedis, redis_url: str,
                                        tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(site_file(50), encoding="utf-8")
    config = tmp_path / "sites.toml"
    config.write_text(f'[[sites]]\nid = "bench"\norigins = ["{ORIGIN}"]\n'
                      f'secret = "bench-secret-0123456789"\nrules = "{rules}"\n')
    for command in ([sys.executable, "-m", "engine", "serve", "--config", str(config),
                     "--redis", redis_url],
                    [sys.executable, "-m", "bench.reference", "--kind", "echo"]):
        port = free_port()
        with server([*command, "--port", str(port)], port):
            result = drive(port, "bench", visitors=10, duration=1.5, rate=100, processes=1,
                           seed=1, warmup=0.5)
        errors = sum(result["errors"].values())
        assert result["sent"] > 50
        assert result["acked"] + errors == result["sent"]  # nothing silently lost
        assert errors == 0
        latency = result["latency"]
        assert 0 < latency.percentile(50) <= latency.percentile(99) <= latency.max_us < 2e6
        # 100 events/s for 1.5 s after the warm-up, not more: nothing sent past the window.
        assert 120 <= result["sent"] <= 160
        if "engine" in command:  # actions came, and the visitors reported them
            assert sum(result["actions"].values()) > 0
