"""The supervisor keeps the engine's long-lived tasks alive: a task that fails
is logged once with its cause, started again with backoff, counted, and
reported failing until it has worked for a while again. Tested on an asyncio
loop with short backoffs; the real engine's tasks in test_tasks.py."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from engine.runtime.metrics import Metrics
from engine.runtime.supervisor import Supervisor, TaskState


class Flaky:
    """A task that fails its first ``failures`` runs, then runs until stopped."""

    def __init__(self, stop: asyncio.Event, failures: int, error: Exception) -> None:
        self.stop, self.failures, self.error = stop, failures, error
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1
        await asyncio.sleep(0.01)
        if self.runs <= self.failures:
            raise self.error
        await self.stop.wait()


async def until(condition: object, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def supervisor(metrics: Metrics, stop: asyncio.Event) -> Supervisor:
    return Supervisor(metrics, stop, backoff=0.02, max_backoff=0.1, settle=0.3)


def test_a_failing_task_is_started_again_counted_and_reported_until_it_works(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        stop, metrics = asyncio.Event(), Metrics()
        sup = supervisor(metrics, stop)
        task = Flaky(stop, failures=3, error=RuntimeError("flush exploded"))
        sup.start("counters", task)
        await until(lambda: task.runs == 4)
        assert sup.failing() == ["counters"]  # running again, not yet for long
        health = sup.health()["counters"]
        assert health["restarts"] == 3 and health["error"] == "RuntimeError: flush exploded"
        assert metrics.task_restarts["counters"] == 3
        assert "ondo_task_failing{task=\"counters\"} 1" in metrics.render()
        await until(lambda: not sup.failing())
        assert sup.health()["counters"] == {"state": "running", "restarts": 3}
        assert "ondo_task_failing{task=\"counters\"} 0" in metrics.render()
        assert 'ondo_task_restarts_total{task="counters"} 3' in metrics.render()
        await sup.close()
        assert sup.tasks["counters"].state is TaskState.STOPPED

    with caplog.at_level(logging.WARNING, logger="ondo.supervisor"):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    # The cause once, with its traceback; the same cause again is not logged again.
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "flush exploded" in caplog.text
    assert "task counters works again after 3 failure(s)" in caplog.text


def test_a_new_cause_in_the_same_streak_is_logged_in_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        sup = supervisor(Metrics(), stop)
        causes = iter([ValueError("first"), KeyError("second")])

        async def task() -> None:
            error = next(causes, None)
            if error is not None:
                raise error
            await stop.wait()

        sup.start("recorder", task)
        await until(lambda: sup.tasks["recorder"].restarts == 2)
        await sup.close()

    with caplog.at_level(logging.ERROR, logger="ondo.supervisor"):
        asyncio.run(scenario())
    assert [r.exc_info is not None for r in caplog.records] == [True, False]
    assert "KeyError: 'second'" in caplog.records[1].getMessage()


def test_a_task_that_returns_before_the_engine_stops_is_a_failure() -> None:
    async def scenario() -> None:
        stop, metrics = asyncio.Event(), Metrics()
        sup = supervisor(metrics, stop)
        ran = []

        async def task() -> None:
            ran.append(1)
            if len(ran) > 1:
                await stop.wait()

        sup.start("follower", task)
        await until(lambda: len(ran) == 2)
        assert sup.tasks["follower"].last_error == "TaskEnded: the task returned before the " \
                                                  "engine stopped"
        await sup.close()

    asyncio.run(scenario())


def test_the_backoff_doubles_to_its_cap_while_the_task_keeps_failing() -> None:
    async def scenario() -> list[float]:
        stop = asyncio.Event()
        sup = Supervisor(Metrics(), stop, backoff=0.02, max_backoff=0.08, settle=5)
        starts: list[float] = []

        async def task() -> None:
            starts.append(asyncio.get_running_loop().time())
            raise OSError("no disk")

        sup.start("shared_metrics", task)
        await until(lambda: len(starts) == 6)
        await sup.close()
        return [b - a for a, b in itertools.pairwise(starts)]

    gaps = asyncio.run(scenario())
    assert gaps[0] == pytest.approx(0.02, abs=0.015)
    assert gaps[1] == pytest.approx(0.04, abs=0.015)
    assert all(gap == pytest.approx(0.08, abs=0.03) for gap in gaps[2:])


def test_stopping_ends_every_task_without_restarts() -> None:
    async def scenario() -> Supervisor:
        stop = asyncio.Event()
        sup = supervisor(Metrics(), stop)
        for name in ("a", "b"):
            sup.start(name, Flaky(stop, failures=0, error=RuntimeError()))
        await asyncio.sleep(0.05)
        await sup.close()
        return sup

    sup = asyncio.run(scenario())
    assert {t.state for t in sup.tasks.values()} == {TaskState.STOPPED}
    assert {t.restarts for t in sup.tasks.values()} == {0}


def test_a_cancellation_from_inside_a_task_is_a_failure_not_an_end() -> None:
    async def scenario() -> Supervisor:
        stop = asyncio.Event()
        sup = supervisor(Metrics(), stop)
        runs = []

        async def task() -> None:
            runs.append(1)
            if len(runs) == 1:  # awaits a future someone else cancels
                future = asyncio.get_running_loop().create_future()
                future.cancel()
                await future
            await stop.wait()

        sup.start("follower", task)
        await until(lambda: len(runs) == 2)
        await sup.close()
        return sup

    sup = asyncio.run(scenario())
    assert sup.tasks["follower"].restarts == 1
    assert sup.tasks["follower"].state is TaskState.STOPPED
