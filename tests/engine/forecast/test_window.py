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


RANGE = "from 2026-08-20 20:06 (90 days before now) to 2026-11-19 20:06 (a day after now), " \
    "Asia/Seoul"


@pytest.mark.parametrize(("text", "said"), [
    ("9" * 400, "is not a time"),  # no form reads 400 digits
    ("1e400", "is not a time"),
    ("9" * 400 + "d", RANGE),  # an infinite count of days before now
    ("99999999999h", RANGE),  # 11 million years ago
    ("0001-01-01", RANGE),
    ("9999-12-31", RANGE),
    ("1000000000", RANGE),  # 2001: older than any recording kept
    ("91d", RANGE),  # one day older than the longest recording (forecast_days = 90)
    ("2026-11-20", RANGE),  # more than a day after now
])
def test_a_time_no_recording_can_hold_is_refused_with_the_range(text: str, said: str) -> None:
    with pytest.raises(BadWhen) as refused:
        when(text, NOW, SEOUL)
    assert said in str(refused.value)
    assert len(str(refused.value)) < 300, "the refused text is cut short"


def test_the_range_is_inclusive() -> None:
    assert when("90d", NOW, SEOUL) == NOW - 90 * 86_400
    assert when("2026-11-19T20:06:40", NOW, SEOUL) == NOW + 86_400
