"""Device class from a User-Agent header (pure)."""

from __future__ import annotations

import re

_TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|(Android(?!.*Mobile))", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|BlackBerry|Opera Mini|"
                     r"SamsungBrowser.*Mobile|KAKAOTALK|NAVER\(inapp", re.I)


def device_of(user_agent: str) -> str:
    """"mobile", "tablet" or "desktop" (the default for unknown agents)."""
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"
