"""A forecast that takes a while, for the tests of its bounds and its cancel:
a draft of many rules that all match every page view, over a recording
copied many times (each copy another visitor with the same journey); and
the forecast workers running on this machine, read from /proc."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

from engine.forecast.recording import LAYOUT, Merged, decode, encode
from engine.forecast.worker import NAME
from engine.store.base import Store
from engine.store.redis import RedisStore

SITE = "demo-shop"


def many_rules(n: int, site: str = SITE) -> str:
    """A draft of ``n`` push notes for every visitor: each page view's replay
    decides all of them (about 4,000 entries a second for 1,000 rules on the
    machine of bench/RESULTS.md)."""
    lines = [f"site: {site}", "rules:"]
    for i in range(n):
        lines += [f"  - id: heavy-{i}", "    if: visit_count >= 1",
                  f"    do: {{ widget: push_note, title: 알림 {i}, body: 오늘의 소식 }}",
                  "    frequency: always"]
    return "\n".join(lines) + "\n"


async def copy_recording(store: Store, entries: int, site: str = SITE) -> int:
    """Append copies of the site's recording under other visitor keys until it
    holds about ``entries``; the entries it holds then."""
    recordings = store.recordings
    layouts = await recordings.layouts(site)
    recorded, after = [], ""
    while page := await recordings.page(site, 0, 4e9, after, 5_000):
        recorded += [decode(blob, layouts) for _, blob in page]
        after = page[-1][0]
    copies: list[tuple[float, bytes]] = []
    n = 0
    while recorded and len(recorded) + len(copies) < entries:
        n += 1
        for entry in recorded:
            changes: dict[str, Any] = {"key": f"{entry.key}#{n}"}
            if isinstance(entry, Merged):
                changes["anonymous"] = f"{entry.anonymous}#{n}"
            copies.append((entry.now, encode(dataclasses.replace(entry, **changes))))
    for start in range(0, len(copies), 10_000):
        await recordings.append(site, copies[start:start + 10_000],
                                (LAYOUT.id, LAYOUT.as_json()), 0.0, 100_000_000)
    return len(recorded) + len(copies)


def copy_recording_on(redis_url: str, entries: int, site: str = SITE) -> int:
    """``copy_recording`` on the Redis at ``redis_url``, from plain code (on a
    thread of its own: the caller's may own an event loop, as Playwright's does)."""
    copied: list[int] = []

    async def copy() -> None:
        store = RedisStore(redis_url)
        try:
            copied.append(await copy_recording(store, entries, site))
        finally:
            await store.close()
    thread = threading.Thread(target=asyncio.run, args=(copy(),))
    thread.start()
    thread.join()
    if not copied:
        raise RuntimeError("the recording was not copied (the thread's error is above)")
    return copied[0]


def workers(of: int | None = None) -> list[int]:
    """The pids of the forecast workers of the engine process ``of`` (this
    one by default): named ``ondo-forecast``, children of its forkserver."""
    of = os.getpid() if of is None else of
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != NAME:
                continue
            server = _parent(int(entry.name))
            if server is not None and _parent(server) == of:
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return found


def _parent(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def wait_for(condition: Any, timeout: float) -> float:
    """Seconds until ``condition()`` holds; AssertionError after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s")
        time.sleep(0.01)
    return time.monotonic() - start
