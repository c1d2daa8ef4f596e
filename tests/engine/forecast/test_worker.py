"""The forecast worker bounds itself: should its engine not watch it (an
event loop held up), it ends past its budget by itself, with an exit status
that says which limit it met (the engine answers 422 or 413 from it)."""

from __future__ import annotations

import multiprocessing
import time
from zoneinfo import ZoneInfo

from engine.forecast import worker
from engine.forecast.replay import Settings
from engine.matcher import matcher_class
from tests.engine.forecast.day import LIVE

SETTINGS = Settings(ZoneInfo("Asia/Seoul"), 86_400.0, frozenset())


def worker_alone(seconds: float, memory: int) -> tuple[int | None, float]:
    """A worker that waits for entries no engine sends: (its exit status, its life)."""
    context = multiprocessing.get_context("forkserver")
    ours, theirs = context.Pipe()
    process = context.Process(target=worker.work, args=(
        theirs, LIVE, "draft.yaml", matcher_class(), SETTINGS, None, seconds, memory))
    started = time.monotonic()
    process.start()
    theirs.close()
    try:
        process.join(timeout=30)
    finally:
        if process.exitcode is None:
            process.kill()
        ours.close()
    return process.exitcode, time.monotonic() - started


def test_a_worker_past_its_time_ends_itself() -> None:
    status, life = worker_alone(seconds=0.5, memory=1 << 30)
    assert status == worker.OVER_TIME
    assert life < 5


def test_a_worker_past_its_memory_ends_itself() -> None:
    status, _ = worker_alone(seconds=60, memory=1024 * 1024)  # less than Python itself
    assert status == worker.OVER_MEMORY
