"""The site calendar: day keys, hours and windows in the site's time zone,
remembered per quarter hour without ever disagreeing with a fresh computation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.profile.localtime import Calendar, local_time

SEOUL = ZoneInfo("Asia/Seoul")


def at(text: str, tz: ZoneInfo = SEOUL) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_a_seoul_evening_and_its_windows() -> None:
    local = local_time(at("2026-11-18T20:06"), SEOUL)
    assert (local.day, local.hour, local.weekday) == ("20261118", 20, "wed")
    assert local.window_starts == ("20261112", "20261020", "20260821")
    assert local.oldest_day == "20260821"


def test_midnight_in_seoul_is_15_00_utc() -> None:
    calendar = Calendar(SEOUL)
    before, after = at("2026-11-18T23:59:59"), at("2026-11-19T00:00")
    assert calendar.at(before).day == "20261118"
    assert calendar.at(after).day == "20261119"
    assert calendar.at(before).day == "20261118"  # going back in time is fine too


def test_daylight_saving_changes_the_hour_at_the_right_instant() -> None:
    new_york = ZoneInfo("America/New_York")
    calendar = Calendar(new_york)
    # 2026-03-08 02:00 EST -> 03:00 EDT, at 07:00 UTC.
    change = datetime.fromisoformat("2026-03-08T07:00+00:00").timestamp()
    assert calendar.at(change - 1).hour == 1
    assert calendar.at(change).hour == 3


ZONES = [ZoneInfo(name) for name in (
    "Asia/Seoul", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
    "America/St_Johns", "Pacific/Chatham", "Europe/London", "UTC")]


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES),
       instants=st.lists(st.floats(min_value=946_684_800, max_value=2_524_608_000,
                                   allow_nan=False), min_size=1, max_size=20),
       offsets=st.lists(st.floats(min_value=0, max_value=1800), min_size=1, max_size=20))
def test_the_calendar_always_agrees_with_a_fresh_computation(
        zone: ZoneInfo, instants: list[float], offsets: list[float]) -> None:
    calendar = Calendar(zone)
    for instant in instants:
        for offset in offsets:  # neighbours share a quarter hour: served from memory
            now = instant + offset
            assert calendar.at(now) == local_time(now, zone)
