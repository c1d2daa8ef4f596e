"""The recorder: entries wait in memory while the store is away and are
written when it returns; past the buffer the oldest go, counted, and nothing
is recorded for a site that turned forecasts off."""

from __future__ import annotations

import pytest

from engine.forecast import recorder as recorder_module
from engine.forecast.recorder import Recorder
from engine.forecast.recording import Purchased
from engine.store.memory import MemoryStore
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
