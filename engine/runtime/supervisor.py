"""The engine's long-lived tasks, supervised: none of them dies silently.

A task is a coroutine factory that runs until the app's ``stop`` event (the
counters' flush, the recorder, the follower of the messages between nodes, the
loop watcher, the shared metrics). When one raises or returns early:

- the first failure of a streak is logged with its traceback, a later failure
  of the same streak only when its cause changes (a task failing every few
  seconds must not flood the log);
- the task is started again after a backoff (0.5 s, doubling to 30 s; back to
  0.5 s once it has run ``settle`` seconds without failing);
- ``ondo_task_restarts_total{task}`` counts it and ``ondo_task_failing{task}``
  is 1 until the task has run ``settle`` seconds since its last failure;
- /healthz names the failing tasks and says ``degraded`` meanwhile.

Recovery is logged once, when the task has run ``settle`` seconds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.runtime.metrics import Metrics

log = logging.getLogger("ondo.supervisor")

Clock = Callable[[], float]
Factory = Callable[[], Awaitable[None]]


class TaskState(enum.StrEnum):
    RUNNING = "running"  # and has been for ``settle`` seconds since any failure
    RECOVERING = "recovering"  # started again after a failure, not yet ``settle`` seconds
    WAITING = "waiting"  # failed; waits out its backoff before it starts again
    STOPPED = "stopped"


class TaskEnded(Exception):
    """A supervised task returned although the engine was not stopping."""

    def __str__(self) -> str:
        return "the task returned before the engine stopped"


@dataclass
class Supervised:
    """What is known of one task, for /healthz and /metrics."""

    name: str
    state: TaskState = TaskState.RUNNING
    restarts: int = 0
    failures: int = 0  # in the current streak
    last_error: str | None = None
    failed_at: float | None = None  # clock time of the streak's last failure

    @property
    def failing(self) -> bool:
        return self.state in (TaskState.WAITING, TaskState.RECOVERING)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"state": self.state.value, "restarts": self.restarts}
        if self.failing:
            out["error"] = self.last_error
            out["failures"] = self.failures
        return out


class Supervisor:
    def __init__(self, metrics: Metrics, stop: asyncio.Event, *, backoff: float = 0.5,
                 max_backoff: float = 30.0, settle: float = 10.0,
                 clock: Clock = time.monotonic) -> None:
        self.metrics = metrics
        self.stop = stop
        self.backoff, self.max_backoff, self.settle = backoff, max_backoff, settle
        self.clock = clock
        self.tasks: dict[str, Supervised] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, factory: Factory) -> None:
        """Run ``factory()`` until the stop event, started again whenever it fails."""
        if name in self.tasks:
            raise ValueError(f"a task named {name!r} is supervised already")
        self.tasks[name] = Supervised(name)
        self.metrics.task_restarts[name] += 0  # listed in /metrics before any failure
        self._running[name] = asyncio.create_task(self._keep(self.tasks[name], factory),
                                                  name=f"ondo-{name}")

    def failing(self) -> list[str]:
        """The names of the tasks that are not working right now."""
        return sorted(name for name, task in self.tasks.items() if task.failing)

    def health(self) -> dict[str, dict[str, object]]:
        return {name: task.as_json() for name, task in sorted(self.tasks.items())}

    async def close(self, timeout: float = 2.0) -> None:
        """Wait for the tasks to end after the stop event (each gets ``timeout``
        seconds, then is cancelled)."""
        self.stop.set()
        for name, task in self._running.items():
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=timeout)
            self.tasks[name].state = TaskState.STOPPED

    async def _keep(self, task: Supervised, factory: Factory) -> None:
        delay = self.backoff
        while not self.stop.is_set():
            started = self.clock()
            settled = asyncio.get_running_loop().call_later(self.settle, self._settled, task)
            try:
                await factory()
                if self.stop.is_set():
                    return
                raise TaskEnded
            except asyncio.CancelledError as exc:
                current = asyncio.current_task()
                if current is None or current.cancelling():
                    raise  # the supervisor's close
                # A cancellation from inside the task (a future it awaited was
                # cancelled by someone else) ends the task: a failure like any.
                self._failed(task, exc, delay)
            except Exception as exc:
                if self.clock() - started >= self.settle:
                    delay = self.backoff  # it had worked for a while: a new streak
                self._failed(task, exc, delay)
            finally:
                settled.cancel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
            delay = min(delay * 2, self.max_backoff)
            if not self.stop.is_set():
                task.restarts += 1
                task.state = TaskState.RECOVERING
                self.metrics.task_restarts[task.name] += 1
        task.state = TaskState.STOPPED

    def _failed(self, task: Supervised, exc: BaseException, delay: float) -> None:
        cause = f"{type(exc).__name__}: {exc}"
        if not task.failing:
            task.failures = 0
            log.error("task %s failed; it starts again in %.1f s", task.name, delay,
                      exc_info=exc)
        elif cause != task.last_error:
            log.error("task %s failed again (%s); it starts again in %.1f s", task.name,
                      cause, delay)
        task.failures += 1
        task.last_error = cause
        task.failed_at = self.clock()
        task.state = TaskState.WAITING
        self.metrics.tasks_failing.add(task.name)

    def _settled(self, task: Supervised) -> None:
        """``settle`` seconds of a run without failing: the task works."""
        if task.state is TaskState.RECOVERING:
            log.warning("task %s works again after %d failure(s)", task.name, task.failures)
        if task.state in (TaskState.RECOVERING, TaskState.RUNNING):
            task.state = TaskState.RUNNING
            task.failures = 0
            self.metrics.tasks_failing.discard(task.name)
