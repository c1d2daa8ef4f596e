"""What holds the event loop: collections of the cyclic GC (timed through
``gc.callbacks``, by generation) and the loop's own lag (a task that asks to
wake every ``tick`` and measures how late it wakes). Both are histograms in
/metrics (``ondo_pause_seconds{cause=...}``), so that a latency spike in a
load test, or in production, can be put down to its cause."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from engine.runtime.metrics import Metrics

log = logging.getLogger("ondo.stalls")
LOGGED_LAG = 0.1  # a loop this late is logged (at most once a minute)


class GcPauses:
    """Times every collection into ``metrics`` as cause ``gc0``, ``gc1``, ``gc2``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.metrics.pause(f"gc{info.get('generation', '?')}",
                               time.perf_counter() - self._started)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


async def watch_loop(metrics: Metrics, stop: asyncio.Event, tick: float = 0.05) -> None:
    """Until ``stop``: how late the loop wakes a task that sleeps ``tick``."""
    loop = asyncio.get_running_loop()
    logged = -1e9
    while not stop.is_set():
        asked = loop.time()
        await asyncio.sleep(tick)
        late = loop.time() - asked - tick
        metrics.pause("loop", max(late, 0.0))
        if late > LOGGED_LAG and loop.time() - logged > 60:
            logged = loop.time()
            log.warning("the event loop was %.0f ms late (ondo_pause_seconds has the causes)",
                        late * 1e3)
