"""A site's recording for forecasts (contract, every store): entries come
back in time order, page by page, within a window; retention by time and
by count drops the oldest, at most a block more than asked; a clock that
steps back a little never loses an entry."""

from __future__ import annotations

import json

from engine.store.base import Store
from tests.engine.store.stores import T0, Run

LAYOUT = ("abcd1234", json.dumps(["visit_count", "page_path"]))
BLOCK = 100  # Redis trims a stream by whole nodes of this many entries
WEEK = 7 * 86_400.0


def append(store: Store, run: Run, site: str, times: list[float], *, keep_since: float = 0.0,
           cap: int = 1_000_000) -> None:
    run(store.recordings.append(site, [(at, f"entry-{at:.3f}".encode()) for at in times],
                                LAYOUT, keep_since, cap))


def read(store: Store, run: Run, site: str, since: float = 0, until: float = 2e9,
         count: int = 7) -> list[bytes]:
    out, after = [], ""
    while page := run(store.recordings.page(site, since, until, after, count)):
        out += [blob for _, blob in page]
        after = page[-1][0]
    return out


def test_entries_come_back_in_order_page_by_page_within_the_window(store: Store,
                                                                    run: Run) -> None:
    append(store, run, "rec-a", [T0 + n for n in range(30)])
    assert read(store, run, "rec-a") == [f"entry-{T0 + n:.3f}".encode() for n in range(30)]
    assert read(store, run, "rec-a", T0 + 10, T0 + 19.5) == \
        [f"entry-{T0 + n:.3f}".encode() for n in range(10, 20)]
    span = run(store.recordings.span("rec-a"))
    assert (span.entries, span.first, span.last) == (30, T0, T0 + 29)
    assert run(store.recordings.layouts("rec-a")) == {"abcd1234": ["visit_count", "page_path"]}


def test_an_empty_recording(store: Store, run: Run) -> None:
    span = run(store.recordings.span("rec-none"))
    assert (span.entries, span.first, span.last) == (0, None, None)
    assert run(store.recordings.page("rec-none", 0, 2e9)) == []
    assert run(store.recordings.layouts("rec-none")) == {}


def test_an_entry_from_a_clock_a_little_behind_is_kept_after_the_newest(store: Store,
                                                                       run: Run) -> None:
    append(store, run, "rec-b", [T0 + 5])
    append(store, run, "rec-b", [T0 + 4.998, T0 + 6])  # another node, 2 ms behind
    assert read(store, run, "rec-b") == [f"entry-{at:.3f}".encode()
                                         for at in (T0 + 5, T0 + 4.998, T0 + 6)]


def test_retention_by_days_drops_the_oldest(store: Store, run: Run) -> None:
    times = [T0 + n * 60 for n in range(1_000)]
    append(store, run, "rec-c", times)
    cut = T0 + 600 * 60  # the newest 400 are inside the days kept
    append(store, run, "rec-c", [T0 + 1_000 * 60], keep_since=cut)
    kept = run(store.recordings.span("rec-c")).entries
    assert 401 <= kept <= 401 + BLOCK
    assert read(store, run, "rec-c")[-401:] == [f"entry-{at:.3f}".encode()
                                                for at in [*times[600:], T0 + 60_000]]


def test_retention_by_count_keeps_the_newest(store: Store, run: Run) -> None:
    append(store, run, "rec-d", [T0 + n for n in range(1_000)], cap=300)
    kept = run(store.recordings.span("rec-d")).entries
    assert 300 <= kept <= 300 + BLOCK
    assert read(store, run, "rec-d")[-1] == f"entry-{T0 + 999:.3f}".encode()
