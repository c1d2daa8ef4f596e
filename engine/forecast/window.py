"""A forecast's window as people write it (pure): ``24h``, ``7d``, ``90m``
before now, a date or time in the site's time zone (``2026-12-01``,
``2026-12-01T09:00``), or epoch seconds."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([mhd])")
_UNIT = {"m": 60.0, "h": 3_600.0, "d": 86_400.0}


class BadWhen(ValueError):
    """A window bound that is none of the accepted forms."""


def when(text: str, now: float, tz: ZoneInfo) -> float:
    text = text.strip()
    ago = _AGO.fullmatch(text)
    if ago:
        return now - float(ago.group(1)) * _UNIT[ago.group(2)]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadWhen(f"{text!r} is not a time: give 24h, 7d or 90m before now, a date or "
                      "time such as 2026-12-01T09:00 (the site's time zone), or epoch "
                      "seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()
