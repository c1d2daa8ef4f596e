"""Heavy work in job workers: the answer comes back (big lists in pieces, a
job's own exception as itself), and every bound holds: jobs per site, time,
memory, a worker that dies, a caller that goes away. Real worker processes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from engine.runtime.jobs import Busy, Jobs, TooLarge, TooSlow, WorkerLost
from engine.runtime.procfs import rss
from engine.wire.protocol import LIMITS

T = TypeVar("T")
MIB = 1024 * 1024


class Refused(Exception):
    """An exception whose __init__ takes other arguments than it stores (as FeedError)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problems, first {problems[0]}")


def products(n: int) -> tuple[str, list[int], int]:
    return ("head", list(range(n)), n)


def refuse() -> None:
    raise Refused(["line 3: name is required", "line 9: price"])


def pid() -> int:
    return os.getpid()


def nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def spin(seconds: float) -> int:
    """Pure CPU, holding the worker's interpreter, as a compile does."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def hold(mib: int) -> int:
    chunks = [bytes(MIB) for _ in range(mib)]  # written: resident, not just mapped
    time.sleep(5)
    return len(chunks)


def run(jobs: Jobs, main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        try:
            return await main()
        finally:
            await jobs.close()

    return asyncio.run(wrapped())


def test_a_jobs_answer_comes_back_and_its_worker_stays_warm() -> None:
    jobs = Jobs(LIMITS)

    async def main() -> tuple[Any, Any, int, int]:
        first = await jobs.run("shop", "the test", pid)
        answer = await jobs.run("shop", "the test", products, 1234)
        return answer, await jobs.run("shop", "the test", products, 0), first, \
            await jobs.run("shop", "the test", pid)

    big, empty, first, again = run(jobs, main)
    assert big == ("head", list(range(1234)), 1234)  # 1,234 items, sent in three pieces
    assert empty == ("head", [], 0)
    assert first == again != os.getpid()  # one worker, reused, not this process


def test_a_jobs_exception_arrives_as_itself() -> None:
    jobs = Jobs(LIMITS)

    async def main() -> None:
        with pytest.raises(Refused) as raised:
            await jobs.run("shop", "the test", refuse)
        assert raised.value.problems == ["line 3: name is required", "line 9: price"]
        assert any("in the job's worker" in note for note in raised.value.__notes__)

    run(jobs, main)


def test_over_jobs_per_site_a_site_is_refused_and_others_are_not() -> None:
    jobs = Jobs(dataclasses.replace(LIMITS, jobs_per_site=2), workers=4)

    async def main() -> None:
        running = [asyncio.create_task(jobs.run("shop", "the test", nap, 1.0))
                   for _ in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(Busy) as refused:
            await jobs.run("shop", "the test", pid)
        assert (refused.value.status, refused.value.field) == (429, "site")
        assert "jobs_per_site" in str(refused.value)
        assert await jobs.run("other-shop", "the test", pid)
        # The engine's own work (a version announced by another node) is never refused.
        assert await jobs.run("shop", "the rule file", pid, counted=False)
        await asyncio.gather(*running)
        assert await jobs.run("shop", "the test", pid)  # its slots are free again

    run(jobs, main)


def test_a_job_over_job_seconds_is_stopped_and_its_worker_killed() -> None:
    jobs = Jobs(dataclasses.replace(LIMITS, job_seconds=0.5))

    async def main() -> None:
        worker = await jobs.run("shop", "the test", pid)
        started = time.monotonic()
        with pytest.raises(TooSlow) as stopped:
            await jobs.run("shop", "the rule file", spin, 30.0)
        assert time.monotonic() - started < 5
        assert (stopped.value.status, stopped.value.field) == (422, "body")
        assert str(stopped.value).startswith("the rule file took more than 0.5 s")
        await asyncio.sleep(0.2)
        assert rss(worker) is None  # killed, not left spinning
        assert await jobs.run("shop", "the test", pid) != worker  # a fresh one

    run(jobs, main)


def test_a_job_over_job_memory_is_stopped() -> None:
    jobs = Jobs(dataclasses.replace(LIMITS, job_memory=200 * MIB))

    async def main() -> None:
        with pytest.raises(TooLarge) as stopped:
            await jobs.run("shop", "the product feed", hold, 400)
        assert (stopped.value.status, stopped.value.field) == (413, "body")
        assert "more than 200 MiB" in str(stopped.value)
        assert await jobs.run("shop", "the test", products, 3) == ("head", [0, 1, 2], 3)

    run(jobs, main)


def test_a_worker_killed_mid_job_is_one_log_line_and_replaced(
        caplog: pytest.LogCaptureFixture) -> None:
    jobs = Jobs(LIMITS)

    async def main() -> None:
        worker = await jobs.run("shop", "the test", pid)
        job = asyncio.create_task(jobs.run("shop", "the rule file", nap, 30.0))
        await asyncio.sleep(0.3)
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(WorkerLost) as lost:
            await job
        assert (lost.value.status, lost.value.field) == (503, "worker")
        assert str(lost.value).endswith("try again")
        assert await jobs.run("shop", "the test", pid) != worker

    with caplog.at_level(logging.INFO, logger="ondo.jobs"):
        run(jobs, main)
    (line,) = [r for r in caplog.records if r.name == "ondo.jobs"]
    assert (line.levelname, line.exc_info) == ("ERROR", None)
    assert line.getMessage().endswith("died while processing the rule file (killed by "
                                      "signal 9); answered 503")


def test_a_cancelled_job_stops_its_worker() -> None:
    jobs = Jobs(LIMITS)

    async def main() -> None:
        worker = await jobs.run("shop", "the test", pid)
        job = asyncio.create_task(jobs.run("shop", "the test", spin, 30.0))
        await asyncio.sleep(0.3)
        job.cancel()  # the HTTP client went away
        with pytest.raises(asyncio.CancelledError):
            await job
        await asyncio.sleep(0.2)
        assert rss(worker) is None
        assert jobs.running == {}

    run(jobs, main)


def test_the_loop_runs_on_while_a_worker_computes() -> None:
    jobs = Jobs(LIMITS)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        job = asyncio.create_task(jobs.run("shop", "the test", spin, 2.0))
        latest = 0.0
        while not job.done():
            asked = loop.time()
            await asyncio.sleep(0.01)
            latest = max(latest, loop.time() - asked - 0.01)
        assert await job > 0
        return latest

    assert run(jobs, main) < 1.0


def test_close_stops_every_worker() -> None:
    jobs = Jobs(LIMITS, workers=2)

    async def main() -> list[int]:
        busy = asyncio.create_task(jobs.run("shop", "the test", nap, 30.0))
        await jobs.run("other", "the test", pid)
        pids = jobs.pids()
        await jobs.close()
        with pytest.raises(asyncio.CancelledError):
            await busy
        return pids

    pids = run(jobs, main)
    assert len(pids) == 2
    time.sleep(0.2)
    assert [rss(p) for p in pids] == [None, None]
