"""Heavy admin work in worker processes, never on the event loop: checking,
compiling and explaining rule files, reading product feeds.

A rule file of 20,000 rules takes seconds of pure CPU to compile. In the
engine's process it would hold the interpreter, and every site's visitors with
it; in a thread it would still take the interpreter from the loop for 5 ms at
a time. So a job is a plain function with picklable arguments, run in a worker
process, and the loop only waits for its answer.

The workers are a small pool, forked from multiprocessing's forkserver with the
compiler preloaded, and kept warm between jobs: a check of a 100-line file, sent
as a marketer types in the console, then costs what it costs in the engine's own
process (a fresh process per job added 10-15 ms to each). At most ``workers``
run at once (one per core by default); more jobs wait their turn.

Every job is bounded, and each bound has its typed error (``JobError``: the
``status`` and ``field`` an HTTP answer gives, the message a person reads):

- ``Busy``: more than ``Limits.jobs_per_site`` jobs of one site at once
  (running or waiting);
- ``TooSlow``: running longer than ``Limits.job_seconds``; the worker is killed;
- ``TooLarge``: the worker holding more than ``Limits.job_memory`` (its RSS,
  watched every 50 ms, and an address-space rlimit as a backstop against a
  sudden burst); the worker is killed;
- ``WorkerLost``: the worker died on its own (killed by someone, the kernel's
  OOM killer, a crash); logged once, the caller may try again.

A job whose caller is cancelled (an HTTP client gone away) is stopped: its worker
is killed and replaced. An exception the job raises is raised again in the
engine, as itself (``FeedError`` with its problems), with the worker's
traceback as a note.

A large answer crosses back in pieces: each list in the job's result (a tuple
of values, or one list) is sent 500 items at a time, and the engine unpickles
one piece per turn of its loop, so that 20,000 rules coming back never hold the
loop for more than a few milliseconds at a time. The worker's side, and what
crosses the pipe, is engine/runtime/job_worker.py.

``warm()`` (at start-up) starts one worker in the background, so that the first
check does not wait for the forkserver to import the compiler; workers are
started from a thread of their own at the lowest priority, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import pickle
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, ClassVar, TypeVar

from engine.runtime.job_worker import framed, read_frame, rebuilt, same_kind, serve
from engine.runtime.metrics import Metrics
from engine.runtime.procfs import cpu_seconds, rss
from engine.wire.protocol import Limits

log = logging.getLogger("ondo.jobs")
T = TypeVar("T")

WATCH = 0.05  # seconds between two looks at a running worker's memory and time
WALL_FACTOR = 10  # a job is stopped after this many times job_seconds on the wall clock
_MIB = 1024 * 1024


# What the forkserver imports once, before it forks any worker of the engine
# (job workers and forecast workers alike: one forkserver per engine process,
# started by whichever needs it first), so that no worker imports them again.
PRELOAD = ("engine.runtime.job_worker", "engine.runtime.site", "engine.flow.feed",
           "engine.forecast.worker")


def forkserver() -> Any:
    """The multiprocessing context of the engine's worker processes: forked
    from a small server process, not from the engine with its sockets and
    threads."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


class JobError(Exception):
    """A job that could not give its answer; ``status`` and ``field`` are what
    the HTTP answer says, ``str()`` what a person reads."""

    status: ClassVar[int] = 503
    field: ClassVar[str] = "body"
    limit_name: ClassVar[str | None] = None  # the Limits field it broke
    outcome: ClassVar[str] = "lost"  # in /metrics, ondo_jobs_total{outcome}


@dataclass
class Busy(JobError):
    limit: int
    status = 429
    field = "site"
    limit_name = "jobs_per_site"
    outcome = "busy"

    def __str__(self) -> str:
        return f"{self.limit} heavy request(s) of this site (checking, uploading or " \
               "explaining rule files, reading a product feed) are running already (the " \
               "limit jobs_per_site): try again when one is done"


@dataclass
class TooSlow(JobError):
    what: str
    limit: float
    status = 422
    limit_name = "job_seconds"
    outcome = "too_slow"

    def __str__(self) -> str:
        return f"{self.what} took more than {self.limit:g} s to process (the limit " \
               "job_seconds) and was stopped: make it smaller (fewer rules, or split it)"


@dataclass
class TooLarge(JobError):
    what: str
    limit: int
    status = 413
    limit_name = "job_memory"
    outcome = "too_large"

    def __str__(self) -> str:
        return f"{self.what} needed more than {self.limit // _MIB:,} MiB of memory to " \
               "process (the limit job_memory) and was stopped: make it smaller (fewer " \
               "rules, or split it)"


@dataclass
class WorkerLost(JobError):
    what: str
    field = "worker"

    def __str__(self) -> str:
        return f"the worker processing {self.what} stopped unexpectedly; try again"


@dataclass(frozen=True, slots=True)
class _Raised:
    """What the job raised: raised again in the engine once its worker is back
    in the pool (an expected refusal, a feed's bad lines, leaves it warm)."""

    exc: BaseException


@dataclass(eq=False)  # each worker is itself: hashed by identity
class _Worker:
    process: Any  # multiprocessing's process object
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def kill(self) -> None:
        with contextlib.suppress(OSError, AttributeError, ValueError):
            self.process.kill()
        self.writer.close()


class Jobs:
    """The engine's pool of job workers (see the module's docstring)."""

    def __init__(self, limits: Limits, workers: int | None = None,
                 metrics: Metrics | None = None) -> None:
        self.limits = limits
        self.metrics = metrics or Metrics()  # jobs by outcome: done, busy, too_slow, …
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.running: dict[str, int] = {}  # jobs of each site, running or waiting
        self._slots = asyncio.Semaphore(self.workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._context: Any = None
        self._callers: set[asyncio.Task[Any]] = set()  # waiting for a job's answer
        self._warming: asyncio.Task[None] | None = None
        self._closed = False

    def warm(self) -> None:
        """Start a worker in the background unless one is there: the first job
        then does not wait for the forkserver to import the compiler (a second
        or so). Called at start-up; the pool is filled on demand after that."""
        if self._idle or self._busy or self._warming is not None or self._closed:
            return
        self._warming = asyncio.create_task(self._warm(), name="ondo-jobs-warm")

    async def _warm(self) -> None:
        try:
            worker = await self._start("the warm-up")
        except JobError:
            return  # logged; the first job tries again
        finally:
            self._warming = None
        if self._closed:
            worker.kill()
        else:
            self._idle.append(worker)

    async def run(self, site: str, what: str, work: Callable[..., T], *args: Any,
                  counted: bool = True) -> T:
        """``work(*args)`` in a worker; ``what`` names its input in errors
        ("the rule file"). ``counted``: one of the site's ``jobs_per_site``
        (a request's job); the engine's own work (loading a version another
        node announced) is not, and is never refused. Raises JobError, or
        what ``work`` raised."""
        if counted:
            if self.running.get(site, 0) >= self.limits.jobs_per_site:
                self.metrics.jobs[Busy.outcome] += 1
                raise Busy(self.limits.jobs_per_site)
            self.running[site] = self.running.get(site, 0) + 1
        task = asyncio.current_task()
        if task is not None:
            self._callers.add(task)
        outcome = "done"  # or what ``work`` raised: the job ran to its end either way
        try:
            async with self._slots:
                return await self._run(what, work, args)  # type: ignore[no-any-return]
        except JobError as exc:
            outcome = exc.outcome
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.metrics.jobs[outcome] += 1
            self._callers.discard(task)
            if counted:
                self.running[site] -= 1
                if not self.running[site]:
                    del self.running[site]

    async def _run(self, what: str, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self._closed:
            raise WorkerLost(what)
        worker = self._idle.pop() if self._idle else await self._start(what)
        self._busy.add(worker)
        keep = False
        try:
            worker.writer.write(framed(pickle.dumps((work, args), pickle.HIGHEST_PROTOCOL)))
            await worker.writer.drain()
            outcome = await self._watch(worker, what)
            keep = not self._closed and await self._stays(worker)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await self._lost(worker, what, exc)
            raise WorkerLost(what) from None
        finally:
            self._busy.discard(worker)
            if keep:
                self._idle.append(worker)
            else:  # mid-job (cancelled, over a limit), dead, or grown: never reused
                worker.kill()
                _reap(worker)
        if isinstance(outcome, _Raised):
            raise outcome.exc
        return outcome

    async def _start(self, what: str) -> _Worker:
        if self._context is None:
            self._context = forkserver()
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=serve, args=(theirs, self.limits.job_memory),
                                        daemon=True, name="ondo-job")
        starting = asyncio.get_running_loop().create_future()
        threading.Thread(target=_start_politely, args=(process, starting),
                         name="ondo-job-start", daemon=True).start()
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            # The thread goes on starting it: stop the worker once it has.
            starting.add_done_callback(functools.partial(_abandon, process, ours, theirs))
            raise
        except Exception as exc:
            log.error("a job worker could not be started: %s", exc)
            ours.close()
            theirs.close()
            raise WorkerLost(what) from exc
        theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        reader, writer = await asyncio.open_connection(sock=sock)
        worker = _Worker(process, reader, writer)
        return worker

    async def _watch(self, worker: _Worker, what: str) -> Any:
        """The worker's answer, within the job's time and memory. The time is
        the worker's CPU time: at idle priority a worker on a core that live
        traffic keeps busy waits, and waiting is not the job's fault (a wall
        clock of ``WALL_FACTOR`` times as long still bounds a worker that
        hangs)."""
        loop = asyncio.get_running_loop()
        limit = self.limits.job_seconds
        deadline = loop.time() + WALL_FACTOR * limit
        started = cpu_seconds(worker.pid) or 0.0
        answer = asyncio.ensure_future(self._receive(worker, what))
        try:
            while True:
                left = deadline - loop.time()
                used = (cpu_seconds(worker.pid) or started) - started
                if left <= 0 or used > limit:
                    log.info("a job on %s ran past %g s (job_seconds): stopped", what, limit)
                    raise TooSlow(what, limit)
                done, _ = await asyncio.wait({answer}, timeout=min(WATCH, left))
                if done:
                    return answer.result()
                held = rss(worker.pid)
                if held is not None and held > self.limits.job_memory:
                    log.info("a job on %s held %d MiB (job_memory %d MiB): stopped", what,
                             held // _MIB, self.limits.job_memory // _MIB)
                    raise TooLarge(what, self.limits.job_memory)
        finally:
            if not answer.done():
                answer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await answer

    async def _stays(self, worker: _Worker) -> bool:
        """Whether a worker may be kept warm after its job: its own word,
        ``("after", retire)``, sent once the answer is (job_worker.py)."""
        try:
            _, retire = pickle.loads(await asyncio.wait_for(read_frame(worker.reader), 1.0))
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError,
                pickle.UnpicklingError, ValueError):
            return False
        return not retire

    async def _receive(self, worker: _Worker, what: str) -> Any:
        message = pickle.loads(await read_frame(worker.reader))
        if message[0] == "raised":
            return _Raised(rebuilt(*message[1:]))
        if message[0] == "memory":
            log.info("a job on %s ran out of its address space (job_memory)", what)
            raise TooLarge(what, self.limits.job_memory)
        _, skeleton, lists = message
        parts = list(skeleton) if isinstance(skeleton, tuple) else [skeleton]
        for slot, pieces in lists:
            items: list[Any] = []
            for _ in range(pieces):
                # One piece per turn of the loop: visitors' events go in between.
                piece = pickle.loads(await read_frame(worker.reader))
                if not isinstance(piece, list):  # ("memory",) while it was sending
                    raise TooLarge(what, self.limits.job_memory)
                items += piece
                await asyncio.sleep(0)
            if slot < 0:
                return items
            parts[slot] = items
        return same_kind(skeleton, parts) if isinstance(skeleton, tuple) else skeleton

    async def _lost(self, worker: _Worker, what: str, exc: BaseException) -> None:
        if self._closed:
            return
        await asyncio.to_thread(worker.process.join, 1)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else \
            f"exit status {code}" if code is not None else f"its pipe broke ({exc})"
        log.error("a job worker (pid %d) died while processing %s (%s); answered 503",
                  worker.pid, what, how)

    async def close(self) -> None:
        """Stop every worker; whoever still waits for a job is cancelled."""
        self._closed = True
        if self._warming is not None:
            self._warming.cancel()
        for caller in self._callers:
            if caller is not asyncio.current_task():
                caller.cancel()
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        for worker in workers:
            worker.kill()
        for worker in workers:
            await asyncio.to_thread(_reap, worker)

    def pids(self) -> list[int]:
        """The workers' process ids (busy ones first), for tests and operators."""
        return [w.pid for w in self._busy] + [w.pid for w in self._idle]


def _start_politely(process: Any, started: asyncio.Future[None]) -> None:
    """Start a worker from a thread of its own, never on the loop, at the
    lowest priority: the first start launches the forkserver, which imports the
    compiler (a second of CPU, which must not come out of live traffic's share
    of a core). On Linux the nice value is the thread's, and what it starts
    inherits it; the engine's other threads keep theirs."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    try:
        process.start()
    except BaseException as exc:
        started.get_loop().call_soon_threadsafe(_settle, started, exc)
    else:
        started.get_loop().call_soon_threadsafe(_settle, started, None)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():  # a guard: only this settles it (its caller awaits it shielded)
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


def _abandon(process: Any, ours: Connection, theirs: Connection,
             started: asyncio.Future[None]) -> None:
    if started.exception() is None:
        with contextlib.suppress(Exception):
            process.kill()
    ours.close()
    theirs.close()


def _reap(worker: _Worker) -> None:
    # The forkserver reaps its children itself; this only drops multiprocessing's
    # bookkeeping of one that is already dead, without waiting for it.
    with contextlib.suppress(Exception):
        worker.process.join(0)
