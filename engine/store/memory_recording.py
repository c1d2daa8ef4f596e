"""A site's recording for forecasts in memory: the twin of
engine/store/redis_recording.py, held to the same contract tests."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.store.base import Recording

if TYPE_CHECKING:
    from engine.store.memory import MemoryStore


def _id(ms: int, seq: int) -> str:
    return f"{ms}-{seq}"


def _parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class MemoryRecordings:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        # site -> ((ms, seq) ids in order, entries beside them)
        self._ids: dict[str, list[tuple[int, int]]] = {}
        self._entries: dict[str, list[bytes]] = {}
        self._layouts: dict[str, dict[str, list[str]]] = {}

    async def append(self, site: str, entries: Sequence[tuple[float, bytes]],
                     layout: tuple[str, str], keep_since: float, cap: int) -> None:
        with self.store.reaching():
            self._layouts.setdefault(site, {}).setdefault(layout[0], json.loads(layout[1]))
            ids = self._ids.setdefault(site, [])
            blobs = self._entries.setdefault(site, [])
            for at, blob in entries:
                ms = int(at * 1000)
                last = ids[-1] if ids else (0, -1)
                new = (ms, 0) if ms > last[0] else (last[0], last[1] + 1)
                ids.append(new)
                blobs.append(blob)
            oldest = bisect.bisect_left(ids, (int(max(0.0, keep_since) * 1000), 0))
            drop = max(oldest, len(ids) - cap)
            del ids[:drop], blobs[:drop]

    async def span(self, site: str) -> Recording:
        with self.store.reaching():
            ids = self._ids.get(site, [])
            return Recording(len(ids), ids[0][0] / 1000 if ids else None,
                             ids[-1][0] / 1000 if ids else None)

    async def page(self, site: str, since: float, until: float, after: str = "",
                   count: int = 5_000) -> list[tuple[str, bytes]]:
        with self.store.reaching():
            ids, blobs = self._ids.get(site, []), self._entries.get(site, [])
            start = bisect.bisect_right(ids, _parse(after)) if after else \
                bisect.bisect_left(ids, (int(since * 1000), 0))
            end = bisect.bisect_right(ids, (int(until * 1000), 2**62))
            end = min(end, start + count)
            return [(_id(*ids[i]), blobs[i]) for i in range(start, end)]

    async def layouts(self, site: str) -> dict[str, list[str]]:
        with self.store.reaching():
            return {k: list(v) for k, v in self._layouts.get(site, {}).items()}
