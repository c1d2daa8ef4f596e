"""A site's recording for forecasts in memory: the twin of
engine/store/redis_recording.py and record.lua, held to the same contract
tests (the byte budget trims exactly as the script does; the age and count
caps trim exactly where Redis trims whole nodes)."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.store.base import ENTRY_OVERHEAD, TRIMMED_TO, Recording

if TYPE_CHECKING:
    from engine.store.memory import MemoryStore


def _id(ms: int, seq: int) -> str:
    return f"{ms}-{seq}"


def _parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class _Stream:
    ids: list[tuple[int, int]] = field(default_factory=list)  # (ms, seq), in order
    blobs: list[bytes] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # end offsets in the bytes ever appended
    until: float = math.inf  # when it expires on the store's clock (seconds)

    def start(self, index: int) -> int:
        return self.ends[index] - len(self.blobs[index]) - ENTRY_OVERHEAD

    def drop(self, count: int) -> None:
        del self.ids[:count], self.blobs[:count], self.ends[:count]


class MemoryRecordings:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._streams: dict[str, _Stream] = {}
        self._layouts: dict[str, dict[str, list[str]]] = {}

    def _stream(self, site: str) -> _Stream:
        """The site's stream as of the store's clock (an expired one is gone)."""
        stream = self._streams.get(site)
        if stream is not None and self.store.now >= stream.until:
            del self._streams[site]
            self._layouts.pop(site, None)
            stream = None
        return stream or _Stream()

    async def append(self, site: str, entries: Sequence[tuple[float, bytes]],
                     layout: tuple[str, str], keep_since: float, cap: int,
                     max_bytes: int = 0) -> None:
        with self.store.reaching():
            stream = self._streams[site] = self._stream(site)
            self._layouts.setdefault(site, {}).setdefault(layout[0], json.loads(layout[1]))
            total = stream.ends[-1] if stream.ends else 0
            for at, blob in entries:
                ms = int(at * 1000)
                last = stream.ids[-1] if stream.ids else (0, -1)
                stream.ids.append((ms, 0) if ms > last[0] else (last[0], last[1] + 1))
                stream.blobs.append(blob)
                total += len(blob) + ENTRY_OVERHEAD
                stream.ends.append(total)
            kept_since = int(max(0.0, keep_since) * 1000)
            oldest = bisect.bisect_left(stream.ids, (kept_since, 0))
            stream.drop(max(oldest, len(stream.ids) - cap))
            if max_bytes and stream.ids and total - stream.start(0) > max_bytes:
                target = total - int(max_bytes * TRIMMED_TO)
                first = bisect.bisect_left(range(len(stream.ids)), target, key=stream.start)
                stream.drop(min(first, len(stream.ids) - 1))  # the newest stays
            if stream.ids:
                last_ms = stream.ids[-1][0]
                stream.until = (last_ms + max(1000, last_ms - kept_since)) / 1000

    async def span(self, site: str) -> Recording:
        with self.store.reaching():
            stream = self._stream(site)
            ids = stream.ids
            return Recording(len(ids), ids[0][0] / 1000 if ids else None,
                             ids[-1][0] / 1000 if ids else None,
                             stream.ends[-1] - stream.start(0) if ids else 0)

    async def page(self, site: str, since: float, until: float, after: str = "",
                   count: int = 5_000) -> list[tuple[str, bytes]]:
        with self.store.reaching():
            stream = self._stream(site)
            ids = stream.ids
            start = bisect.bisect_right(ids, _parse(after)) if after else \
                bisect.bisect_left(ids, (int(since * 1000), 0))
            end = bisect.bisect_right(ids, (int(until * 1000), 2**62))
            end = min(end, start + count)
            return [(_id(*ids[i]), stream.blobs[i]) for i in range(start, end)]

    async def layouts(self, site: str) -> dict[str, list[str]]:
        with self.store.reaching():
            self._stream(site)  # gone with the stream when it expires
            return {k: list(v) for k, v in self._layouts.get(site, {}).items()}
