"""A small HDR-style latency histogram: log-spaced buckets (~2% wide) from 1 µs
to 100 s, mergeable across load-generator processes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_GROWTH = 1.02
_BUCKETS = int(math.log(1e8) / math.log(_GROWTH)) + 2


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * _BUCKETS)
    total: int = 0
    max_us: float = 0.0

    def record(self, micros: float) -> None:
        index = 0 if micros < 1 else min(int(math.log(micros) / math.log(_GROWTH)) + 1,
                                         _BUCKETS - 1)
        self.counts[index] += 1
        self.total += 1
        self.max_us = max(self.max_us, micros)

    def merge(self, other: Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.max_us = max(self.max_us, other.max_us)

    def percentile(self, p: float) -> float:
        """The latency (µs) at percentile ``p`` (0-100), to bucket precision."""
        if not self.total:
            return 0.0
        rank = math.ceil(self.total * p / 100)
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min(_GROWTH ** index, self.max_us)
        return self.max_us
