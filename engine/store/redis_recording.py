"""A site's recording for forecasts in Redis (engine/store/base.py
``Recordings``): one stream ``ondo:{SITE}:rec`` whose entry ids start with
the entry's time in ms, each entry its blob (``e``) and its end offset in the
bytes ever appended (``o``, for the byte budget), and
``ondo:{SITE}:rec:layouts`` (layout id -> names).

Both share the site's hash tag: on a cluster a site's recording is one slot,
written once per flush (a few times a second) in one call of record.lua.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.store.base import ENTRY_OVERHEAD, TRIMMED_TO, Recording

if TYPE_CHECKING:
    from engine.store.redis import RedisStore

BLOCK = 2_000  # entries of one record.lua call: a flush never holds Redis long


def stream_key(site: str) -> str:
    return f"ondo:{{{site}}}:rec"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(fields: Any, name: str) -> Any:
    return fields.get(name.encode(), fields.get(name)) if isinstance(fields, dict) else None


def _blob(fields: Any) -> bytes:
    blob = _field(fields, "e")
    return blob if isinstance(blob, bytes) else b""


def _end(fields: Any) -> int:
    """Where the entry ends in the bytes ever appended (record.lua)."""
    offset = _field(fields, "o")
    return int(offset) if offset is not None else 0


def _start(fields: Any) -> int:
    """Where it starts (0 for an entry recorded before entries had offsets)."""
    offset = _field(fields, "o")
    return int(offset) - len(_blob(fields)) - ENTRY_OVERHEAD if offset is not None else 0


def _ms(entry_id: bytes | str) -> float:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0]) / 1000.0


class RedisRecordings:
    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.client = store.client

    async def append(self, site: str, entries: Sequence[tuple[float, bytes]],
                     layout: tuple[str, str], keep_since: float, cap: int,
                     max_bytes: int = 0) -> None:
        keys = (stream_key(site), f"{stream_key(site)}:layouts")
        for start in range(0, len(entries), BLOCK):
            args: list[Any] = [layout[0], layout[1], cap, int(max(0.0, keep_since) * 1000),
                               max_bytes, int(max_bytes * TRIMMED_TO), ENTRY_OVERHEAD]
            for at, blob in entries[start:start + BLOCK]:
                args += (int(at * 1000), blob)
            await self.store._evalsha(self.store.record_script, keys, args)

    async def span(self, site: str) -> Recording:
        key = stream_key(site)
        async with self.store.reaching():
            pipe = self.client.pipeline(transaction=False)
            pipe.xlen(key)
            pipe.xrange(key, count=1)
            pipe.xrevrange(key, count=1)
            entries, first, last = await pipe.execute()
        held = _end(last[0][1]) - _start(first[0][1]) if first and last else 0
        return Recording(int(entries), _ms(first[0][0]) if first else None,
                         _ms(last[0][0]) if last else None, held)

    async def page(self, site: str, since: float, until: float, after: str = "",
                   count: int = 5_000) -> list[tuple[str, bytes]]:
        low = f"({after}" if after else str(int(since * 1000))
        async with self.store.reaching():
            found = await self.client.xrange(stream_key(site), min=low,
                                             max=str(int(until * 1000)), count=count)
        return [(_text(entry_id), _blob(fields)) for entry_id, fields in found or ()]

    async def layouts(self, site: str) -> dict[str, list[str]]:
        async with self.store.reaching():
            raw = await self.client.hgetall(f"{stream_key(site)}:layouts")
        return {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
                for k, v in raw.items()}
