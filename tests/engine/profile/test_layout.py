"""The stored layout is one fact in three languages: the Python that reads the
profile, the stores, and the Lua that writes it. Held together here."""

from __future__ import annotations

import re
from pathlib import Path

from engine.profile.layout import (
    BUCKETS,
    CAPS,
    DAYS,
    EVENT_IDS,
    PROFILE,
    PURCHASED_KEPT,
    TAGS_KEPT,
    window_sums,
)
from rules.catalogue import WINDOW_DAYS

LUA = (Path(__file__).resolve().parents[3] / "engine" / "store" / "lua" / "event.lua"
       ).read_text(encoding="utf-8")


def test_the_lua_day_bucket_codes_and_their_order_are_the_layouts() -> None:
    table = re.search(r"local METRIC = \{(.*?)\}", LUA)
    assert table is not None
    codes = dict(re.findall(r"(\w+) = (\d+)", table.group(1)))
    assert [code for code, _ in sorted(codes.items(), key=lambda kv: int(kv[1]))] == \
        list(BUCKETS.values())


def test_the_lua_keys_are_the_layouts_in_order() -> None:
    keys = re.findall(r"KEYS\[(\d)\]\s+ondo:\{SITE:VISITOR\}:(\w)", LUA)
    assert [suffix for _, suffix in sorted(keys)] == [PROFILE, EVENT_IDS, DAYS, CAPS]


def test_window_sums_are_read_window_by_window_metric_by_metric() -> None:
    n = len(BUCKETS)
    sums = window_sums(list(range(len(WINDOW_DAYS) * n)))
    assert sums["visits_7d"] == 0 and sums["pageviews_7d"] == 1
    assert sums["visits_30d"] == n and sums["purchase_total_90d"] == 3 * n - 1


def test_the_lua_keeps_as_many_bought_products_as_the_python_layout() -> None:
    kept = re.search(r"local PURCHASED_KEPT = (\d+)", LUA)
    assert kept is not None and int(kept.group(1)) == PURCHASED_KEPT


def test_the_lua_keeps_as_many_tags_as_the_layout_says() -> None:
    kept = re.search(r"local TAGS_KEPT = (\d+)", LUA)
    assert kept is not None and int(kept.group(1)) == TAGS_KEPT
