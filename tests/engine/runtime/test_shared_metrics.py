"""Several workers' figures add up in whichever worker answers /metrics; a
worker that is gone counts no more."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from engine.runtime.metrics import Metrics
from engine.runtime.shared_metrics import SharedMetrics, snapshot


def worker(events: int, lag: float) -> Metrics:
    metrics = Metrics()
    metrics.events["pageview"] = events
    metrics.connections = events // 2
    metrics.stage("match", 0.00002)
    metrics.pause("loop", lag)
    return metrics


def test_a_scrape_sums_every_running_workers_figures(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "30"])  # stands for the other worker's process
    try:
        (tmp_path / f"{other.pid}.json").write_text(json.dumps(snapshot(
            worker(7, 0.2), {("shop", "r1|matched"): 3}, store_errors=1)))
        (tmp_path / "999999999.json").write_text(json.dumps(snapshot(
            worker(1000, 0.0), {}, store_errors=0)))  # a worker gone: its counts stay
        here = SharedMetrics(tmp_path, worker(5, 0.001), lambda: Counter(
            {("shop", "r1|matched"): 2}), lambda: 0)
        merged, totals, errors = here.merged()
    finally:
        other.kill()
        other.wait()
    # Counters never go down when a worker dies; its sockets are gone with it.
    assert merged.events["pageview"] == 1012 and merged.connections == 2 + 3
    assert merged.stages["match"].n == 3 and merged.pauses["loop"].n == 3
    assert totals[("shop", "r1|matched")] == 5 and errors == 1
    text = merged.render(totals, errors)
    assert 'ondo_events_total{kind="pageview"} 1012' in text
    assert 'ondo_pause_seconds_count{cause="loop"} 3' in text


def test_a_worker_leaves_its_figures_whole_and_its_sockets_out_at_the_end(
        tmp_path: Path) -> None:
    import asyncio

    shared = SharedMetrics(tmp_path / "m", worker(3, 0.0), dict, lambda: 0)
    shared.write()
    assert json.loads((tmp_path / "m" / f"{shared.pid}.json").read_text())["events"] == \
        {"pageview": 3}

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(shared.run(stop, every=0.01))
        await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(run_briefly())
    last = json.loads((tmp_path / "m" / f"{shared.pid}.json").read_text())
    assert (last["events"], last["connections"]) == ({"pageview": 3}, 0)
