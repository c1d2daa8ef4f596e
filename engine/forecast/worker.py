"""The forecast worker: a child process that replays a draft over recorded
entries as they arrive over a pipe, in the order they were recorded.

A replay is seconds of pure CPU: in the engine's own process it would hold
the interpreter from the event loop and slow live traffic. The worker
compiles the draft itself, so only text and bytes cross the pipe, and it
decodes each entry just before replaying it: its memory is the visitors'
delivery state, never the window.

On the engine's Redis the worker reads the window itself (``Reading``): the
engine's event loop only waits for the answer. Otherwise (the in-memory
store of tests) the engine sends it: ("layouts", {id: names}, total),
("entries", [bytes, ...])..., ("end",). Out: ("progress", done, total)...,
then ("done", forecast JSON), or ("too_many", limit), ("unavailable",
message), ("error", message).

The engine bounds the worker (engine/forecast/service.py: its time and its
resident memory, watched from the engine, which kills it). The worker bounds
itself too, for when the engine cannot watch (its event loop held up): a
thread of its own ends the process past the same budget, with the exit
status ``OVER_TIME`` or ``OVER_MEMORY``, which the engine reads. It names
itself ``ondo-forecast`` (``/proc/PID/comm``, what ``ps`` and ``top`` show).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import rules
from engine.forecast.recording import Entry, UnknownLayout, decode
from engine.forecast.replay import Replay, Settings
from engine.matcher import MatcherLike
from engine.runtime.procfs import rss
from engine.runtime.site import ActiveRules
from engine.store.base import StoreUnavailable, source_version
from engine.store.redis import RedisStore

PAGE = 5_000  # entries read from the store at a time
NAME = "ondo-forecast"  # the worker's process name (15 bytes at most)
POLL = 0.1  # seconds between two looks of the worker at its own clock and memory
OVER_TIME, OVER_MEMORY = 3, 4  # its exit status when it stops itself over its budget


def draft_rules(source: str, filename: str, matcher_class: type[MatcherLike]) -> ActiveRules:
    compiled = rules.check(source, filename)
    if compiled.ruleset is None:
        raise ValueError("the draft has errors")
    return ActiveRules.build(compiled.ruleset, matcher_class, source_version(source), source)


@contextlib.contextmanager
def collecting_later() -> Iterator[None]:
    """No cyclic garbage collection while replaying: a replay makes millions
    of short-lived containers and no cycles, and the collector's passes over
    the visitors' state would cost more than the replay itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def replay_entries(source: str, filename: str, matcher_class: type[MatcherLike],
                   settings: Settings, entries: Iterable[Entry]) -> dict[str, Any]:
    """The forecast of a draft's text over entries in their recorded order."""
    draft = draft_rules(source, filename, matcher_class)
    replay = Replay(draft, settings)
    with collecting_later():
        replay.feed(entries)
    return replay.result()


@dataclass(frozen=True, slots=True)
class Reading:
    """Where the worker reads the window itself: the engine's Redis."""

    url: str
    site: str
    since: float
    until: float
    limit: int  # the most entries one forecast replays
    total: int  # entries expected (for progress)


class TooMany(Exception):
    pass


async def _read(conn: Connection, replay: Replay, reading: Reading) -> int:
    """Read the window page by page and replay each; the entries unreadable."""
    store = RedisStore(reading.url)
    unreadable = done = 0
    try:
        recordings = store.recordings
        layouts = await recordings.layouts(reading.site)

        def fetch(after: str) -> asyncio.Task[list[tuple[str, bytes]]]:
            return asyncio.ensure_future(recordings.page(reading.site, reading.since,
                                                         reading.until, after, PAGE))

        upcoming = fetch("")
        while page := await upcoming:
            done += len(page)
            if done > reading.limit:
                raise TooMany
            # The next page is asked for before this one is replayed: Redis
            # reads it while this process replays.
            upcoming = fetch(page[-1][0])
            await asyncio.sleep(0)
            unreadable += _replay(replay, [blob for _, blob in page], layouts)
            conn.send(("progress", done, max(done, reading.total)))
    finally:
        await store.close()
    return unreadable


def _replay(replay: Replay, blobs: list[bytes], layouts: dict[str, list[str]]) -> int:
    entries = []
    unreadable = 0
    for blob in blobs:
        try:
            entries.append(decode(blob, layouts))
        except (UnknownLayout, ValueError, TypeError):
            unreadable += 1
    replay.feed(entries)
    return unreadable


def _watch_myself(seconds: float, memory: int) -> None:
    deadline = time.monotonic() + seconds
    while True:
        time.sleep(POLL)
        if time.monotonic() > deadline:
            os._exit(OVER_TIME)  # at once: the replay's state is not worth tearing down
        if (rss() or 0) > memory:
            os._exit(OVER_MEMORY)


def work(conn: Connection, source: str, filename: str, matcher_class: type[MatcherLike],
         settings: Settings, reading: Reading | None = None, seconds: float = 0.0,
         memory: int = 0) -> None:
    """Replay the draft ``source`` and answer over ``conn``, within ``seconds``
    and ``memory`` resident bytes (the forecast's budget; 0: unbounded)."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w", encoding="ascii") as comm:
        comm.write(NAME)
    if seconds > 0 and memory > 0:
        threading.Thread(target=_watch_myself, args=(seconds, memory), daemon=True,
                         name="budget").start()
    # Live traffic first: on a machine where the engine shares this core, the
    # replay takes what the engine leaves.
    os.nice(19)
    gc.disable()  # the process ends with the replay (collecting_later)
    try:
        conn.send(_forecast(conn, source, filename, matcher_class, settings, reading))
    except (EOFError, BrokenPipeError):
        return  # the engine gave up on this forecast
    except StoreUnavailable as exc:
        conn.send(("unavailable", str(exc)))
    except Exception as exc:  # sent to the engine, which logs it and answers 500
        conn.send(("error", f"{exc!r}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _forecast(conn: Connection, source: str, filename: str, matcher_class: type[MatcherLike],
              settings: Settings, reading: Reading | None) -> tuple[Any, ...]:
    """The replay of the window, read from the store or from ``conn``: the answer."""
    draft = draft_rules(source, filename, matcher_class)
    replay = Replay(draft, settings)
    if reading is not None:
        try:
            unreadable = asyncio.run(_read(conn, replay, reading))
        except TooMany:
            return ("too_many", reading.limit)
    else:
        layouts: dict[str, list[str]] = {}
        total = done = unreadable = 0
        while (message := conn.recv())[0] != "end":
            if message[0] == "layouts":
                layouts, total = message[1], message[2]
            else:
                unreadable += _replay(replay, message[1], layouts)
                done += len(message[1])
                conn.send(("progress", done, max(done, total)))
    result = replay.result()
    result["unreadable"] = unreadable
    return ("done", result)
