"""A forecast's window as marketers write it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from engine.forecast.window import BadWhen, when

SEOUL = ZoneInfo("Asia/Seoul")
NOW = 1_795_000_000.0  # 2026-11-18 20:06 in Seoul


@pytest.mark.parametrize(("text", "expected"), [
    ("24h", NOW - 86_400), ("7d", NOW - 7 * 86_400), ("90m", NOW - 5_400), ("0m", NOW),
    ("1.5h", NOW - 5_400), ("1795000000", NOW),
    ("2026-11-18", 1_794_927_600.0),  # midnight in Seoul, not UTC
    ("2026-11-18T09:00", 1_794_960_000.0), ("2026-11-18T00:00:00+00:00", 1_794_960_000.0),
])
def test_accepted_forms(text: str, expected: float) -> None:
    assert when(text, NOW, SEOUL) == expected


@pytest.mark.parametrize("text", ["yesterday", "24", "h", "-1d", ""])
def test_anything_else_says_what_is_accepted(text: str) -> None:
    with pytest.raises(BadWhen, match="24h, 7d or 90m"):
        when(text, NOW, SEOUL)
