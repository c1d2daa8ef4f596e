"""An instant as a site's calendar sees it: the day key, the hour, the weekday
and the first day of each window, in the site's time zone (pure).

Every event needs these. They cannot change inside a UTC quarter hour while
the zone's offset is a whole number of quarter hours (every offset in use is:
+09:00, +05:45, -03:30), so a ``Calendar`` computes them once per quarter
hour instead of once per event, and falls back to computing them every time
in the rare stretch where that does not hold (historical local mean time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rules.catalogue import WEEKDAYS, WINDOW_DAYS

QUARTER = 900  # seconds


@dataclass(frozen=True, slots=True)
class LocalTime:
    day: str  # YYYYMMDD: the key of the day buckets
    hour: int
    weekday: str  # mon … sun
    window_starts: tuple[str, ...]  # per WINDOW_DAYS: the window's first day key

    @property
    def oldest_day(self) -> str:
        """The first day of the longest window: older buckets can be dropped."""
        return self.window_starts[-1]


def day_key(when: float, tz: ZoneInfo) -> str:
    """``YYYYMMDD`` of an instant in the site's time zone: the day buckets' key."""
    return datetime.fromtimestamp(when, tz).strftime("%Y%m%d")


def local_time(now: float, tz: ZoneInfo) -> LocalTime:
    local = datetime.fromtimestamp(now, tz)
    today = local.date()
    return LocalTime(today.strftime("%Y%m%d"), local.hour, WEEKDAYS[local.weekday()],
                     tuple((today - timedelta(days=days - 1)).strftime("%Y%m%d")
                           for days in WINDOW_DAYS))


class Calendar:
    """``local_time`` for one time zone, remembered for the current quarter hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._quarter = -1
        self._cached: LocalTime | None = None

    def at(self, now: float) -> LocalTime:
        quarter = int(now // QUARTER)
        cached = self._cached
        if quarter == self._quarter and cached is not None:
            return cached
        local = local_time(now, self.tz)
        if self._steady(quarter):
            self._quarter, self._cached = quarter, local
        return local

    def _steady(self, quarter: int) -> bool:
        """Whether the offset is the same whole number of quarter hours all
        through this quarter hour."""
        start = datetime.fromtimestamp(quarter * QUARTER, self.tz).utcoffset()
        end = datetime.fromtimestamp(quarter * QUARTER + QUARTER - 1, self.tz).utcoffset()
        return start is not None and start == end and \
            start.total_seconds() % QUARTER == 0
