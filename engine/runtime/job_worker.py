"""A job worker's life (engine/runtime/jobs.py runs the pool): a process that
takes jobs from the engine over a pipe and answers each, until the engine
closes the pipe.

The pipe speaks multiprocessing.Connection's framing (a 4-byte length, or -1
and 8 bytes, then a pickle), which the engine reads without blocking its loop
(``read_frame``). In: ``(function, args)``. Out, for each job, one of:

- ``("done", skeleton, [(slot, pieces), ...])`` then the pieces: each list of
  the result (a tuple, or a list itself: slot -1) replaced by None in the
  skeleton and sent ``PIECE`` items at a time, so that the engine can unpickle a
  large answer one piece per turn of its loop;
- ``("raised", type, args, state)``: the job's exception, with the worker's
  traceback as a note, rebuilt in the engine as itself (``rebuilt``);
- ``("memory",)``: the job ran out of the address space it may map.

After a "done" or "raised" answer comes ``("after", retire)``: whether the job
left the worker more than ``RETIRE_GROWTH`` larger than it was once the job's
modules were imported (Python keeps what a 20,000-rule compile grew to): such
a worker is not kept warm.

A worker runs at the lowest priority (SCHED_IDLE on Linux): live traffic first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import struct
import traceback
from multiprocessing.connection import Connection
from typing import Any

from engine.runtime.procfs import rss

PIECE = 500  # items of a list sent back at once
RETIRE_GROWTH = 64 * 1024 * 1024  # bytes a job may leave a worker grown by and it stays warm
_PAGE = os.sysconf("SC_PAGE_SIZE")


def serve(conn: Connection, memory: int) -> None:
    """A worker's life: jobs in, answers out, until the engine closes the pipe."""
    _yield_to_live_traffic()
    _limit_address_space(memory)
    while True:
        try:
            work, args = conn.recv()  # the job's modules are imported by now
        except (EOFError, OSError):
            return
        before = rss() or 0
        try:
            _answer(conn, work(*args))
        except MemoryError:
            conn.send(("memory",))
            continue
        except Exception as exc:
            conn.send(_raised(exc))
        conn.send(("after", (rss() or 0) - before > RETIRE_GROWTH))


def _yield_to_live_traffic() -> None:
    # On a core it shares with the engine, a worker runs when the engine has
    # nothing to do: SCHED_IDLE (Linux) lets the engine take the core back the
    # moment an event arrives; nice 19 only weighs the shares (a visitor's page
    # view then waited 12 ms instead of 2 behind a check of 5,000 rules).
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


def _limit_address_space(memory: int) -> None:
    # The RSS watch is the bound; this only stops a burst faster than the
    # watch (a few GiB in 50 ms) with a MemoryError instead of the machine's memory.
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/statm", "rb") as statm:
            mapped = int(statm.read().split()[0]) * _PAGE
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = mapped + 2 * memory
        if hard == resource.RLIM_INFINITY or wanted < hard:
            resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _answer(conn: Connection, result: Any) -> None:
    """("done", skeleton, [(slot, pieces), ...]) then the pieces of each list:
    the lists of a tuple result in their slots (slot -1: the result is a list)."""
    if isinstance(result, list):
        skeleton, lists = None, [(-1, result)]
    elif isinstance(result, tuple):
        lists = [(i, value) for i, value in enumerate(result) if isinstance(value, list)]
        skeleton = same_kind(result, [None if isinstance(value, list) else value
                                      for value in result])
    else:
        skeleton, lists = result, []
    conn.send(("done", skeleton, [(slot, -(-len(items) // PIECE)) for slot, items in lists]))
    for _, items in lists:
        for start in range(0, len(items), PIECE):
            conn.send(items[start:start + PIECE])


def same_kind(like: tuple[Any, ...], values: list[Any]) -> tuple[Any, ...]:
    """``values`` as a tuple of the kind of ``like`` (a NamedTuple stays one)."""
    make = getattr(type(like), "_make", None)
    return make(values) if make is not None else tuple(values)


def _raised(exc: Exception) -> tuple[Any, ...]:
    exc.add_note("in the job's worker:\n" + "".join(traceback.format_exception(exc)))
    message = ("raised", type(exc), exc.args, vars(exc))
    try:
        pickle.dumps(message)
    except Exception:  # an exception that cannot cross: its text does
        return ("raised", RuntimeError, (f"{exc!r}",), {"__notes__": exc.__notes__})
    return message


def rebuilt(kind: type[BaseException], args: tuple[Any, ...],
            state: dict[str, Any]) -> BaseException:
    # Not kind(*args): an exception's __init__ may take other arguments than
    # the args it stores (FeedError takes its problems).
    exc = kind.__new__(kind, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    # multiprocessing.Connection's framing: a 4-byte length, or -1 and 8 bytes.
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return await reader.readexactly(size)


def framed(payload: bytes) -> bytes:
    if len(payload) > 0x7FFFFFFF:
        return struct.pack("!iQ", -1, len(payload)) + payload
    return struct.pack("!i", len(payload)) + payload
