"""Forecasts as the engine runs them: the window read from the store page by
page and streamed to a worker process (engine/forecast/worker.py), which
replays the draft; progress and the answer come back over the same pipe.

Errors are types with what the caller needs to say: ``OutsideRecording``
(and what is available), ``TooManyEntries`` (the limit), ``Busy`` (the limit
on concurrent forecasts of a site), ``TookTooLong`` and ``TooMuchMemory``
(the forecast's ``Budget``).

A forecast is bounded and cancellable: the engine watches its worker (every
``POLL`` seconds) and kills it past the budget's seconds or when its resident
memory passes the budget's bytes (the worker watches itself too, and exits
with a status that says so); a forecast cancelled (its caller went away)
kills its worker at once. However the forecast ends, the worker is
killed and its slot released as soon as its answer is in: nothing of it
outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfo

from engine.forecast import worker
from engine.forecast.replay import Settings
from engine.matcher import MatcherLike
from engine.runtime.jobs import forkserver
from engine.runtime.procfs import rss
from engine.runtime.site import LiveSite
from engine.store.base import Recording, Store, StoreUnavailable
from engine.wire.protocol import LIMITS, Limits

PAGE = 5_000  # entries read from the store at a time
POLL = 0.1  # seconds between two looks at a worker's clock and memory
Progress = Callable[[str, int, int], None]  # (stage, done, total)
log = logging.getLogger("ondo.forecast")


class ForecastError(Exception):
    """A forecast that cannot run; ``field`` names what to change and
    ``status`` is the HTTP status that says so."""

    field = "since"
    status = 422
    limit_name = ""  # the limit met, as Limits and the config's [limits] name it


@dataclass
class OutsideRecording(ForecastError):
    recording: Recording
    tz: ZoneInfo

    def __str__(self) -> str:
        first, last = self.recording.first, self.recording.last
        if not self.recording.entries or first is None or last is None:
            return "nothing is recorded for this site yet (forecast_days may be 0)"
        return "the window holds no recorded traffic; the recording covers " \
               f"{_local(first, self.tz)} to {_local(last, self.tz)} ({self.tz.key})"


def _local(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M")


@dataclass
class TooManyEntries(ForecastError):
    limit: int
    status = 413
    limit_name = "forecast_entries"

    def __str__(self) -> str:
        return f"the window holds more than {self.limit:,} recorded entries (the limit " \
               "forecast_entries): forecast a shorter window"


@dataclass
class Busy(ForecastError):
    limit: int
    field = "site"
    status = 429
    limit_name = "forecasts_per_site"

    def __str__(self) -> str:
        return f"{self.limit} forecast(s) of this site are running already (the limit " \
               "forecasts_per_site): try again when it is done"


@dataclass
class TookTooLong(ForecastError):
    seconds: float
    limit_name = "forecast_seconds"

    def __str__(self) -> str:
        return f"the forecast took longer than {self.seconds:g} s (the limit " \
               "forecast_seconds): forecast a shorter window"


@dataclass
class TooMuchMemory(ForecastError):
    limit: int  # bytes
    status = 413
    limit_name = "forecast_memory"

    def __str__(self) -> str:
        return f"the forecast needed more than {self.limit / 2**20:,.0f} MiB of memory (the " \
               "limit forecast_memory): forecast a shorter window or a smaller draft"


@dataclass(frozen=True, slots=True)
class Budget:
    """What one forecast may take: seconds from its worker's start, and the
    bytes its worker may hold (resident)."""

    seconds: float
    memory: int

    @classmethod
    def of(cls, limits: Limits) -> Budget:
        return cls(limits.forecast_seconds, limits.forecast_memory)


class WorkerFailed(Exception):
    """The worker process failed or died; the message is for the log."""


class Forecasts:
    def __init__(self, store: Store, matcher_class: type[MatcherLike], per_site: int,
                 max_entries: int, redis_url: str | None = None,
                 budget: Budget | None = None) -> None:
        self.store = store
        self.redis_url = redis_url  # the worker reads there itself
        self.matcher_class = matcher_class
        self.per_site = per_site
        self.max_entries = max_entries
        self.budget = budget or Budget.of(LIMITS)
        self.running: dict[str, int] = {}
        self._context: Any = None

    def busy(self) -> Busy:
        return Busy(self.per_site)

    async def run(self, site: LiveSite, source: str, since: float, until: float,
                  progress: Progress | None = None) -> dict[str, Any]:
        """The forecast of the draft ``source`` (already checked) over the
        site's recording from ``since`` to ``until``. Cancelling it kills
        its worker at once."""
        site_id = site.config.id
        if self.running.get(site_id, 0) >= self.per_site:
            raise self.busy()
        self.running[site_id] = self.running.get(site_id, 0) + 1
        try:
            return await self._run(site, source, since, until, progress)
        finally:
            self.running[site_id] -= 1

    async def _run(self, site: LiveSite, source: str, since: float, until: float,
                   progress: Progress | None) -> dict[str, Any]:
        started = time.perf_counter()
        site_id = site.config.id
        recordings = self.store.recordings
        span = await recordings.span(site_id)
        if not span.entries or span.first is None or span.last is None or \
                until < span.first or since > span.last + 1:
            raise OutsideRecording(span, site.config.tz)
        live = site.rules
        settings = Settings(site.config.tz, site.config.attribution,
                            frozenset(live.by_id) if live is not None else frozenset(),
                            site.config.login_url)
        if self._context is None:
            self._context = forkserver()
        ours, theirs = self._context.Pipe()
        estimate = _estimate(span, since, until)
        reading = worker.Reading(self.redis_url, site_id, since, until, self.max_entries,
                                 estimate) if self.redis_url else None
        process = self._context.Process(
            target=worker.work, args=(theirs, source, f"{site_id}.yaml", self.matcher_class,
                                      settings, reading, self.budget.seconds,
                                      self.budget.memory),
            daemon=True, name=f"ondo-forecast-{site_id}")
        process.start()
        theirs.close()
        guard = Guard(process, self.budget)
        answer = asyncio.create_task(_answer(ours, progress))
        try:
            if reading is None:
                await self._feed(ours, answer, site_id, since, until, estimate)
            result = await answer
        except (WorkerFailed, StoreUnavailable) as exc:
            over = guard.over or await self._stopped_itself(process)
            if over is None:
                raise
            log.warning("a forecast of %s was stopped: %s", site_id, over)
            raise over from exc
        finally:
            guard.close()
            # Its answer is in, or will never be: the worker has nothing more
            # to do than free its memory, which its end does at once.
            _kill(process)
            with contextlib.suppress(ForecastError, WorkerFailed, StoreUnavailable,
                                     asyncio.CancelledError):
                await answer  # its pipe closed with the worker: the reader stops
            await asyncio.to_thread(_end, process)
            ours.close()
        elapsed = time.perf_counter() - started
        return {"site": site_id, "timezone": site.config.timezone,
                "window": {"since": since, "until": until},
                "recording": span.as_json(), "elapsed_seconds": round(elapsed, 3),
                "live_version": live.version if live is not None else None, **result}

    async def _stopped_itself(self, process: Any) -> TookTooLong | TooMuchMemory | None:
        """Why a worker that ended without an answer did, if its own watch
        on its budget ended it (its exit status says)."""
        await asyncio.to_thread(process.join, 1.0)
        if process.exitcode == worker.OVER_TIME:
            return TookTooLong(self.budget.seconds)
        if process.exitcode == worker.OVER_MEMORY:
            return TooMuchMemory(self.budget.memory)
        return None

    async def _feed(self, ours: Connection, answer: asyncio.Task[dict[str, Any]], site: str,
                    since: float, until: float, estimate: int) -> None:
        """Send the window to the worker page by page (a store it cannot reach
        itself). Pages go out as the worker takes them (a full pipe holds the
        sender), and it replays each as it comes."""
        recordings = self.store.recordings
        await _send(ours, ("layouts", await recordings.layouts(site), estimate))
        read, after = 0, ""
        while not answer.done() and (page := await recordings.page(site, since, until, after,
                                                                   PAGE)):
            read += len(page)
            if read > self.max_entries:
                raise TooManyEntries(self.max_entries)
            await _send(ours, ("entries", [blob for _, blob in page]))
            after = page[-1][0]
        if not answer.done():  # else the worker failed: its answer says why
            await _send(ours, ("end",))


def _estimate(span: Recording, since: float, until: float) -> int:
    """Entries in the window, guessed from the recording's span (for progress)."""
    if span.first is None or span.last is None or span.last <= span.first:
        return span.entries
    covered = min(until, span.last) - max(since, span.first)
    return max(1, int(span.entries * min(1.0, max(0.0, covered) / (span.last - span.first))))


async def _send(conn: Connection, message: Any) -> None:
    # A full pipe blocks its writer: in a thread, never on the event loop.
    try:
        await asyncio.to_thread(conn.send, message)
    except (BrokenPipeError, OSError) as exc:
        raise WorkerFailed(f"the forecast worker is gone: {exc}") from exc


async def _answer(conn: Connection, progress: Progress | None) -> dict[str, Any]:
    """The worker's answer, its progress passed on meanwhile."""
    while True:
        try:
            message = await asyncio.to_thread(conn.recv)
        except (EOFError, OSError) as exc:
            raise WorkerFailed("the forecast worker ended without an answer") from exc
        if message[0] == "progress":
            if progress is not None:
                progress("replaying", message[1], message[2])
        elif message[0] == "done":
            return message[1]  # type: ignore[no-any-return]
        elif message[0] == "too_many":
            raise TooManyEntries(int(message[1]))
        elif message[0] == "unavailable":
            raise StoreUnavailable(str(message[1]))
        else:
            raise WorkerFailed(str(message[1]))


class Guard:
    """Watches a forecast's worker from the engine: past the budget's seconds
    or with more resident memory than its bytes, the worker is killed and
    ``over`` says why (its pipe closes, so the forecast's reader stops)."""

    def __init__(self, process: Any, budget: Budget) -> None:
        self.process, self.budget = process, budget
        self.over: TookTooLong | TooMuchMemory | None = None
        self._deadline = time.monotonic() + budget.seconds
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while (held := rss(self.process.pid)) is not None:
            if held > self.budget.memory:
                self._stop(TooMuchMemory(self.budget.memory))
                return
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._stop(TookTooLong(self.budget.seconds))
                return
            await asyncio.sleep(min(POLL, left))

    def _stop(self, why: TookTooLong | TooMuchMemory) -> None:
        self.over = why
        _kill(self.process)

    def close(self) -> None:
        self._task.cancel()


def _kill(process: Any) -> None:
    if process.exitcode is None:  # its pid is not another's yet
        process.kill()


def _end(process: Any) -> None:
    # The worker was killed: it is gone in a moment, and the forkserver
    # reaps it; this waits for it, a little.
    process.join(timeout=5)
