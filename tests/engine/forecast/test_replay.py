"""Forecasts over a scripted day sent through the real pipeline, on each
store: the draft identical to the live rules forecasts exactly what was sent;
other drafts move the figures the way a marketer expects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.forecast.recording import Evaluated, decode
from engine.forecast.replay import Settings
from engine.forecast.worker import replay_entries
from engine.matcher import matcher_class
from engine.store.base import Store
from tests.conftest import site_config
from tests.engine.forecast.day import DAY_START, LIVE, SITE, Day, Shop, play
from tests.engine.store.stores import Run


@pytest.fixture
def shop(store: Store, run: Run) -> Iterator[Shop]:
    yield Shop(store, run)


@pytest.fixture
def day(shop: Shop) -> Day:
    return play(shop)


def recorded(shop: Shop) -> list[Any]:
    async def read() -> list[Any]:
        recordings = shop.store.recordings
        layouts = await recordings.layouts(SITE)
        entries, after = [], ""
        while page := await recordings.page(SITE, 0, 2e9, after, 500):
            entries += [decode(blob, layouts) for _, blob in page]
            after = page[-1][0]
        return entries
    return shop.run(read())


def forecast(shop: Shop, draft: str) -> dict[str, Any]:
    live = shop.site.rules
    assert live is not None
    settings = Settings(shop.site.config.tz, shop.site.config.attribution,
                        frozenset(live.by_id))
    return replay_entries(draft, "draft.yaml", matcher_class(), settings, recorded(shop))


def by_rule(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {figures["rule"]: figures for figures in result["rules"]}


def test_the_live_rules_as_a_draft_forecast_exactly_what_was_sent(shop: Shop, day: Day) -> None:
    result = forecast(shop, LIVE)
    assert result["changed_events"] == 0
    stats = shop.run(shop.store.stats(SITE, "20261119"))
    sent = {rule: stats[f"{rule}|sent"] for rule in day.sent}  # pushes after orders too
    assert {r: f["shown"] for r, f in by_rule(result).items() if f["shown"]} == sent
    assert result["sent"]["draft"] == result["sent"]["live"] == sum(sent.values())
    # The forecast's outcomes are the live counters' too (fatigue, caps, holdout).
    for rule, figures in by_rule(result).items():
        assert figures["matched"] == stats.get(f"{rule}|matched", 0), rule
        assert figures["outcomes"].get("capped", 0) == stats.get(f"{rule}|capped", 0), rule
        assert figures["outcomes"].get("held_out", 0) == stats.get(f"{rule}|held_out", 0)
    # The day exercised what the invariant is about.
    outcomes = {o for f in result["rules"] for o in f["outcomes"]}
    assert {"shown", "capped", "lost_to", "held_out", "fatigued"} <= outcomes
    assert all(not f["new"] for f in result["rules"])


def test_a_higher_priority_rule_on_the_same_widget_shows_what_it_takes(shop: Shop,
                                                                        day: Day) -> None:
    draft = LIVE + """\
  - id: winter-sale
    if: session_pageviews >= 1
    do: { widget: push_note, title: "겨울 세일", body: "전 품목 10%" }
    priority: 50
"""
    result = forecast(shop, draft)
    sale = by_rule(result)["winter-sale"]
    assert sale["new"] and sale["shown"] > 0 and sale["shown_visitors"] > 0
    assert sum(sale["shown_by_hour"]) == sale["shown"]
    nudge = {f["rule"]: f for f in result["live_rules"]}["browse-nudge"]
    assert nudge["sent"] >= day.sent["browse-nudge"]
    assert nudge["taken_by"].get("winter-sale", 0) > 0
    assert nudge["kept"] + nudge["lost"] == nudge["sent"]
    assert by_rule(result)["browse-nudge"]["lost_to"].get("winter-sale", 0) > 0
    assert result["changed_events"] > 0


def test_a_tighter_frequency_shows_less(shop: Shop, day: Day) -> None:
    tighter = LIVE.replace("frequency: { max: 3, per: day }", "frequency: once_per_day")
    result = forecast(shop, tighter)
    popcorn = by_rule(result)["product-popcorn"]
    live = {f["rule"]: f for f in result["live_rules"]}["product-popcorn"]
    assert popcorn["shown"] < live["sent"]
    assert popcorn["outcomes"]["capped"] > 0


def test_buyers_are_counted_among_the_visitors_shown(shop: Shop, day: Day) -> None:
    result = forecast(shop, LIVE)
    assert result["purchases"] > 0
    assert any(f["buyers"] for f in result["rules"])
    for figures in result["rules"]:
        assert figures["buyers"] <= figures["shown_visitors"]
    assert "not a causal estimate" in result["buyers_note"]


def test_a_removed_rule_loses_all_it_sent(shop: Shop, day: Day) -> None:
    without = LIVE.split("  - id: member-bookmark")[0]
    result = forecast(shop, without)
    bookmark = {f["rule"]: f for f in result["live_rules"]}["member-bookmark"]
    assert not bookmark["in_draft"] and bookmark["kept"] == 0
    assert bookmark["lost_for"] == {"not_in_draft": bookmark["sent"]} and bookmark["sent"] > 0


def test_sampling_keeps_whole_journeys(run: Run) -> None:
    from engine.store.memory import MemoryStore

    full, sampled = Shop(MemoryStore(), run), Shop(
        MemoryStore(), run, site_config(None, forecast_sample=0.5))
    play(full), play(sampled)

    def per_key(shop: Shop) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in recorded(shop):
            if isinstance(entry, Evaluated):
                counts[entry.key] = counts.get(entry.key, 0) + 1
        return counts

    everyone, some = per_key(full), per_key(sampled)
    assert 0 < len(some) < len(everyone)
    assert all(some[key] == everyone[key] for key in some)


def test_nothing_is_recorded_when_forecasts_are_off(run: Run) -> None:
    from engine.store.memory import MemoryStore

    shop = Shop(MemoryStore(), run, site_config(None, forecast_days=0))
    play(shop, visitors=5)
    assert run(shop.store.recordings.span(SITE)).entries == 0


def test_recording_starts_at_the_window(shop: Shop, day: Day) -> None:
    span = shop.run(shop.store.recordings.span(SITE))
    assert span.entries == len(recorded(shop)) > 0
    assert span.first is not None and DAY_START <= span.first <= (span.last or 0) <= day.until


CAPPED = """\
version: 1
site: demo-shop
rules:
  - id: thrice
    if: visit_count >= 1
    do: { widget: push_note, title: "세 번까지" }
    frequency: { max: 3, per: visitor }
"""


def test_a_window_opening_on_a_report_keeps_the_caps_recorded_with_the_next_event() -> None:
    from zoneinfo import ZoneInfo

    from engine.forecast.recording import Reported

    # Shown three times before the window; the third show's report opens it.
    profile = {"visit_count": 4, "page_path": "/", "is_member": False}
    before = Reported(DAY_START, "v:1", "a" * 12, "thrice", "shown", False, 4, "20261119")
    capped = Evaluated(DAY_START + 60, "v:1", "e9", ("pageview",), False, dict(profile),
                       {"thrice": {"n": 3, "sn": 1, "s": 4}}, {}, ())
    result = replay_entries(CAPPED, "d.yaml", matcher_class(),
                            Settings(ZoneInfo("Asia/Seoul"), 86_400.0, frozenset({"thrice"})),
                            [before, capped])
    assert result["changed_events"] == 0
    assert result["rules"][0]["outcomes"] == {"capped": 1}
