"""A forecast's window as people write it (pure): ``24h``, ``7d``, ``90m``
before now, a date or time in the site's time zone (``2026-12-01``,
``2026-12-01T09:00``), or epoch seconds.

Each bound is a finite time a recording can hold: no earlier than the longest
recording kept (``forecast_days`` is at most 90), no later than a day after
now (another node's clock may be a little ahead). Anything else is a
``BadWhen`` the caller answers with 422 naming the bound, never a time that
the store cannot read.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.runtime.config import MAX_FORECAST_DAYS

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([mhd])")
_UNIT = {"m": 60.0, "h": 3_600.0, "d": 86_400.0}
KEPT_DAYS = MAX_FORECAST_DAYS  # the longest recording kept
AHEAD = 86_400.0  # seconds after now a bound may be
_SHOWN = 40  # characters of a refused bound repeated in its error


class BadWhen(ValueError):
    """A window bound that is none of the accepted forms, or outside what a
    recording can hold."""


def when(text: str, now: float, tz: ZoneInfo) -> float:
    """The epoch seconds ``text`` names, ``now`` being the engine's clock."""
    text = text.strip()
    moment = _parse(text, now, tz)
    earliest, latest = now - KEPT_DAYS * 86_400.0, now + AHEAD
    if not (math.isfinite(moment) and earliest <= moment <= latest):
        raise BadWhen(f"{_shown(text)} is outside what a recording can hold: give a time "
                      f"from {_local(earliest, tz)} ({KEPT_DAYS} days before now) to "
                      f"{_local(latest, tz)} (a day after now), {tz.key}")
    return moment


def _parse(text: str, now: float, tz: ZoneInfo) -> float:
    ago = _AGO.fullmatch(text)
    if ago:
        # A count of 400 digits is infinite here: refused as out of range.
        return now - float(ago.group(1)) * _UNIT[ago.group(2)]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadWhen(f"{_shown(text)} is not a time: give 24h, 7d or 90m before now, a date "
                      "or time such as 2026-12-01T09:00 (the site's time zone), or epoch "
                      "seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):  # year 1 or 9999 at the edge of a zone
        return math.nan


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def _local(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M")
