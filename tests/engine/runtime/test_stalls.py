"""What holds the event loop is measured: every collection of the cyclic GC,
by generation, and how late the loop wakes a task (/metrics,
ondo_pause_seconds)."""

from __future__ import annotations

import asyncio
import gc
import time

from engine.runtime.metrics import Metrics
from engine.runtime.stalls import GcPauses, watch_loop


def test_each_collection_is_timed_by_generation() -> None:
    metrics = Metrics()
    pauses = GcPauses(metrics)
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.remove()
    assert metrics.pauses["gc0"].n >= 1 and metrics.pauses["gc2"].n >= 1
    assert 'ondo_pause_seconds_count{cause="gc2"}' in metrics.render()
    gc.collect(0)  # removed: no longer counted
    assert pauses not in gc.callbacks


def test_a_blocked_loop_is_measured_as_lag() -> None:
    metrics = Metrics()

    async def main() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_loop(metrics, stop, tick=0.01))
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # a stall: nothing else runs meanwhile
        await asyncio.sleep(0.05)
        stop.set()
        await watcher

    asyncio.run(main())
    lag = metrics.pauses["loop"]
    assert lag.n >= 3
    assert sum(lag.counts[-3:]) >= 1  # one wake-up over 0.1 s late (the last buckets)
