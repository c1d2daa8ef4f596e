"""Forecasts as the engine runs them: the window read from the store page by
page and streamed to a worker process (engine/forecast/worker.py), which
replays the draft; progress and the answer come back over the same pipe.

Errors are types with what the caller needs to say: ``OutsideRecording``
(and what is available), ``TooManyEntries`` (the limit), ``Busy`` (the limit
on concurrent forecasts of a site).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
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
from engine.runtime.site import LiveSite
from engine.store.base import Recording, Store, StoreUnavailable

PAGE = 5_000  # entries read from the store at a time
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ForecastError(Exception):
    """A forecast that cannot run; ``field`` names what to change and
    ``status`` is the HTTP status that says so."""

    field = "since"
    status = 422


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

    def __str__(self) -> str:
        return f"the window holds more than {self.limit:,} recorded entries (the limit " \
               "forecast_entries): forecast a shorter window"


@dataclass
class Busy(ForecastError):
    limit: int
    field = "site"
    status = 429

    def __str__(self) -> str:
        return f"{self.limit} forecast(s) of this site are running already (the limit " \
               "forecasts_per_site): try again when it is done"


class WorkerFailed(Exception):
    """The worker process failed or died; the message is for the log."""


def _context() -> Any:
    # forkserver: a child forked from a small server process, not from the
    # engine with its sockets and threads; the worker module preloaded there.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["engine.forecast.worker"])
    return context


class Forecasts:
    def __init__(self, store: Store, matcher_class: type[MatcherLike], per_site: int,
                 max_entries: int, redis_url: str | None = None) -> None:
        self.store = store
        self.redis_url = redis_url  # the worker reads there itself
        self.matcher_class = matcher_class
        self.per_site = per_site
        self.max_entries = max_entries
        self.running: dict[str, int] = {}
        self._context: Any = None

    def busy(self) -> Busy:
        return Busy(self.per_site)

    async def run(self, site: LiveSite, source: str, since: float, until: float,
                  progress: Progress | None = None) -> dict[str, Any]:
        """The forecast of the draft ``source`` (already checked) over the
        site's recording from ``since`` to ``until``."""
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
            self._context = _context()
        ours, theirs = self._context.Pipe()
        estimate = _estimate(span, since, until)
        reading = worker.Reading(self.redis_url, site_id, since, until, self.max_entries,
                                 estimate) if self.redis_url else None
        process = self._context.Process(
            target=worker.work, args=(theirs, source, f"{site_id}.yaml", self.matcher_class,
                                      settings, reading),
            daemon=True, name=f"ondo-forecast-{site_id}")
        process.start()
        theirs.close()
        answer = asyncio.create_task(_answer(ours, progress))
        try:
            if reading is None:
                await self._feed(ours, answer, site_id, since, until, estimate)
            result = await answer
        finally:
            if not answer.done():
                process.kill()  # its pipe closes: the answer's reader stops
            with contextlib.suppress(ForecastError, WorkerFailed, StoreUnavailable,
                                     asyncio.CancelledError):
                await answer
            await asyncio.to_thread(_end, process)
            ours.close()
        elapsed = time.perf_counter() - started
        return {"site": site_id, "timezone": site.config.timezone,
                "window": {"since": since, "until": until},
                "recording": span.as_json(), "elapsed_seconds": round(elapsed, 3),
                "live_version": live.version if live is not None else None, **result}

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


def _end(process: Any) -> None:
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        with contextlib.suppress(Exception):
            process.join(timeout=5)
