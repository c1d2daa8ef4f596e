"""The stored profile's layout: the facts the profile view, both stores and the
store's Lua script share (docs/storage.md). A test holds ``event.lua`` to them.

A visitor's day buckets live in a hash beside the profile, one field per day and
metric, ``"YYYYMMDD:CODE" -> count``; the windowed attributes (``visits_7d`` ...)
are sums over them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from rules.catalogue import WINDOW_DAYS, WINDOWED_METRICS

# Windowed metric -> its code in the day hash. Their order is the order of the
# Lua script's window sums: for each of WINDOW_DAYS, one sum per metric.
BUCKETS: dict[str, str] = dict(zip(WINDOWED_METRICS, ("v", "pv", "pc", "pt"), strict=True))
EMPTY_BUCKET: dict[str, int] = dict.fromkeys(BUCKETS.values(), 0)

# The keys of one visitor: every one shares the hash tag {SITE:VISITOR}, so the
# per-event script touches one Redis Cluster slot.
PROFILE, EVENT_IDS, DAYS, CAPS = "p", "e", "d", "c"

# The product ids bought that a profile remembers (`purchased`, newest last).
PURCHASED_KEPT = 50
# The shop's tags a profile keeps (`tags`, in the order set).
TAGS_KEPT = 50

# The live counters (lua/live.lua): "now" is the last 5 minutes; orders and
# cart additions are counted per hour over the last 24.
LIVE_WINDOW = 300.0
LIVE_HOURS = 24


def live_key(site: str, suffix: str, shard: int | None = None) -> str:
    """A key of the site's live counters: one hash tag, one slot, per site; or,
    for a site whose counters are spread (site config ``live_shards``), per
    shard of it."""
    if shard is None:
        return f"ondo:{{{site}:live}}:{suffix}"
    return f"ondo:{{{site}:live:{shard}}}:{suffix}"


def live_shard(visitor: str, shards: int) -> int | None:
    """The shard of a site's live counters that holds ``visitor`` (None: the
    site's counters are not spread). Stable across nodes and restarts."""
    return None if shards <= 1 else zlib.crc32(visitor.encode()) % shards


def visitor_key(site: str, visitor: str, suffix: str) -> str:
    return f"ondo:{{{site}:{visitor}}}:{suffix}"


def day_field(day: str, code: str) -> str:
    return f"{day}:{code}"


def day_buckets(fields: Iterable[tuple[str, int]]) -> dict[str, dict[str, int]]:
    """The day hash's fields ("YYYYMMDD:pv" -> n) as buckets, day -> {code: n},
    every code present."""
    buckets: dict[str, dict[str, int]] = {}
    for name, n in fields:
        day, _, code = name.partition(":")
        buckets.setdefault(day, dict(EMPTY_BUCKET))[code] = int(n)
    return buckets


def window_sums(sums: list[int] | tuple[int, ...]) -> dict[str, int]:
    """The windowed attributes (visits_7d, ...) from the sums in script order."""
    n = len(BUCKETS)
    return {f"{metric}_{window}d": int(sums[w * n + m])
            for w, window in enumerate(WINDOW_DAYS) for m, metric in enumerate(BUCKETS)}


def flat_days(days: dict[str, dict[str, int]]) -> dict[str, int]:
    """Day buckets as the day hash's fields ("YYYYMMDD:pv" -> n), for a merge."""
    return {day_field(day, code): n for day, bucket in days.items()
            for code, n in bucket.items() if n}
