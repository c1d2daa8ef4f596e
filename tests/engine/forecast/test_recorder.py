"""The recorder: entries wait in memory while the store is away and are
written when it returns; past the buffer the oldest go, counted, and nothing
is recorded for a site that turned forecasts off; a visitor's tracked
properties are recorded up to a byte budget an hour, the rest counted."""

from __future__ import annotations

import orjson
import pytest
import redis

from engine.forecast import recorder as recorder_module
from engine.forecast.recorder import PropsBudget, Recorder
from engine.forecast.recording import Evaluated, Purchased, decode
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from engine.store.redis_recording import stream_key
from engine.wire.protocol import LIMITS
from tests.conftest import site_config
from tests.engine.store.stores import T0, Run


def test_an_outage_keeps_entries_for_the_next_flush(run: Run) -> None:
    store = MemoryStore()
    recorder = Recorder(store)
    config = site_config(None)
    store.down = True
    for n in range(3):
        recorder.add(config, Purchased(T0 + n, f"v:{n}", 1_000))
    run(recorder.flush(T0 + 5))
    store.down = False
    recorder.add(config, Purchased(T0 + 6, "v:6", 1_000))
    run(recorder.flush(T0 + 7))
    assert run(store.recordings.span("demo-shop")).entries == 4
    assert recorder.metrics.recorded == 4 and recorder.metrics.recording_dropped == 0


def test_past_the_buffer_the_oldest_are_dropped_and_counted(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "BUFFERED", 5)
    store = MemoryStore()
    recorder = Recorder(store)
    config = site_config(None)
    store.down = True
    for n in range(8):
        recorder.add(config, Purchased(T0 + n, f"v:{n}", 1_000))
    run(recorder.flush(T0 + 9))
    store.down = False
    run(recorder.flush(T0 + 10))
    span = run(store.recordings.span("demo-shop"))
    assert (span.entries, span.first) == (5, T0 + 3)  # the newest five
    assert recorder.metrics.recording_dropped == 3


def test_a_site_without_forecasts_records_nothing(run: Run) -> None:
    store = MemoryStore()
    recorder = Recorder(store)
    recorder.add(site_config(None, forecast_days=0), Purchased(T0, "v:1", 1_000))
    run(recorder.flush(T0 + 1))
    assert run(store.recordings.span("demo-shop")).entries == 0


PROPS = {"note": "x" * 4_000}  # 4,011 bytes as JSON: 16 fit in a visitor's hour


def tracked(recorder: Recorder, key: str, at: float, props: dict[str, str] = PROPS) -> None:
    recorder.evaluated(site_config(None), at, key, f"e{at}", ("wish",), False,
                       {"event_name": "wish", "event_props": props}, {}, None)


def recorded_props(store: MemoryStore, run: Run) -> list[tuple[str, int]]:
    """(profile key, bytes of its recorded properties) of each entry, in order."""
    page = run(store.recordings.page("demo-shop", 0, 2e9, count=1_000))
    entries = [decode(blob, {}) for _, blob in page]
    return [(e.key, len(orjson.dumps(e.profile["event_props"]))) for e in entries
            if isinstance(e, Evaluated)]


def test_a_visitors_properties_are_recorded_up_to_their_hourly_budget(run: Run) -> None:
    store = MemoryStore()
    recorder = Recorder(store)
    for n in range(20):
        tracked(recorder, "v:heavy", T0 + n)
    tracked(recorder, "v:light", T0 + 20)
    tracked(recorder, "v:heavy", T0 + 3_600)  # the next hour: a budget again
    run(recorder.flush(T0 + 3_601))
    sizes = recorded_props(store, run)
    assert sizes == [("v:heavy", 4_011)] * 16 + [("v:heavy", 2)] * 4 + [
        ("v:light", 4_011), ("v:heavy", 4_011)]  # 2: "{}", recorded without them
    assert recorder.metrics.recording_props_dropped == 4
    assert "ondo_recording_props_dropped_total 4" in recorder.metrics.render()


def test_the_budgets_memory_is_bounded(run: Run) -> None:
    store = MemoryStore()
    recorder = Recorder(store)
    recorder.props = PropsBudget(LIMITS.visitor_props_bytes, keys=2)
    for n in range(17):
        tracked(recorder, "v:heavy", T0 + n)  # the 17th left out
    tracked(recorder, "v:a", T0 + 17)
    tracked(recorder, "v:b", T0 + 18)  # three keys: the least recently seen is forgotten
    tracked(recorder, "v:heavy", T0 + 19)
    run(recorder.flush(T0 + 20))
    assert [size for key, size in recorded_props(store, run) if key == "v:heavy"][-2:] == \
        [2, 4_011]


def test_one_sites_broken_recording_never_stops_the_others(redis_url: str, run: Run) -> None:
    """A site's stream key holding a string (a bad migration) fails its
    append: that site's entries are dropped, counted, and the failure raised
    for the supervisor, after every other site's are written."""
    client = redis.Redis.from_url(redis_url)
    client.set(stream_key("broken-shop"), "not a stream")
    client.close()
    store = RedisStore(redis_url)
    recorder = Recorder(store)
    for site in ("broken-shop", "demo-shop"):
        recorder.add(site_config(None, id=site), Purchased(T0, "v:1", 1_000))
    with pytest.raises(Exception, match="WRONGTYPE"):
        run(recorder.flush(T0 + 1))
    assert run(store.recordings.span("demo-shop")).entries == 1
    assert (recorder.metrics.recorded, recorder.metrics.recording_dropped) == (1, 1)
    run(recorder.flush(T0 + 2))  # nothing of the broken site left to fail again
    run(store.close())
