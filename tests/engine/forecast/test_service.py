"""Forecasts as the engine runs them, in a worker process: reading the window
itself from Redis, or sent it page by page from another store; the answer is
the replay's, progress comes along, and limits are typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from engine.forecast.replay import Settings
from engine.forecast.service import Busy, Forecasts, OutsideRecording, TooManyEntries
from engine.forecast.worker import replay_entries
from engine.matcher import matcher_class
from engine.store.base import Store
from engine.store.redis import RedisStore
from tests.engine.forecast.day import DAY_START, LIVE, Shop, play
from tests.engine.forecast.test_replay import recorded
from tests.engine.store.stores import Run

DRAFT = LIVE.replace("frequency: { max: 3, per: day }", "frequency: once_per_day")


def service(store: Store, **limits: int) -> Forecasts:
    return Forecasts(store, matcher_class(), limits.get("per_site", 1),
                     limits.get("max_entries", 1_000_000),
                     store.url if isinstance(store, RedisStore) else None)


def test_the_worker_answers_what_the_replay_does_with_progress(store: Store, run: Run) -> None:
    shop = Shop(store, run)
    play(shop, visitors=20)
    steps: list[tuple[str, int, int]] = []
    answer = run(service(store).run(shop.site, DRAFT, DAY_START, DAY_START + 86_400,
                                    lambda *step: steps.append(step)))
    live = shop.site.rules
    assert live is not None
    expected: dict[str, Any] = replay_entries(
        DRAFT, "d.yaml", matcher_class(), Settings(shop.site.config.tz,
                                                   shop.site.config.attribution,
                                                   frozenset(live.by_id)), recorded(shop))
    assert {k: answer[k] for k in expected} == expected
    assert answer["unreadable"] == 0
    assert answer["site"] == "demo-shop" and answer["live_version"] == live.version
    assert steps and steps[-1][1] == len(recorded(shop))


def test_limits_are_typed_errors(store: Store, run: Run) -> None:
    shop = Shop(store, run)
    play(shop, visitors=5)
    with pytest.raises(TooManyEntries, match="more than 10 recorded entries"):
        run(service(store, max_entries=10).run(shop.site, LIVE, DAY_START, DAY_START + 86_400))
    with pytest.raises(OutsideRecording, match="the recording covers"):
        run(service(store).run(shop.site, LIVE, DAY_START - 86_400, DAY_START - 3_600))
    busy = service(store)
    busy.running["demo-shop"] = 1
    with pytest.raises(Busy):
        run(busy.run(shop.site, LIVE, DAY_START, DAY_START + 86_400))
