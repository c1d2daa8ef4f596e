"""A site's recording for forecasts (contract, every store): entries come
back in time order, page by page, within a window; retention by time and
by count drops the oldest, at most a block more than asked; a byte budget
drops the oldest exactly, down to nine tenths of it; a recording expires
with its days; a clock that steps back a little never loses an entry."""

from __future__ import annotations

import json

from engine.store.base import ENTRY_OVERHEAD, Store
from tests.engine.store.stores import T0, Run, time_passes

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


def weighing(n: int) -> bytes:
    """Entry ``n``, weighing exactly 1,000 bytes against a byte budget."""
    return f"entry-{n:05d}".encode().ljust(1_000 - ENTRY_OVERHEAD, b".")


def test_a_byte_budget_drops_the_oldest_down_to_nine_tenths_of_it(store: Store,
                                                                   run: Run) -> None:
    # Three entries a ms, as from engines whose clocks differ: trimming finds
    # its place within a ms too.
    entries = [(T0 + n // 3 / 1000, weighing(n)) for n in range(101)]
    run(store.recordings.append("rec-e", entries[:100], LAYOUT, 0.0, 1_000_000, 100_000))
    assert run(store.recordings.span("rec-e")).bytes == 100_000  # at the budget: all kept
    run(store.recordings.append("rec-e", entries[100:], LAYOUT, 0.0, 1_000_000, 100_000))
    span = run(store.recordings.span("rec-e"))
    assert (span.entries, span.bytes) == (90, 90_000)
    assert read(store, run, "rec-e") == [blob for _, blob in entries[11:]]
    # Below the budget again: nothing more goes until it is passed again.
    more = [(T0 + 1 + n / 1000, weighing(101 + n)) for n in range(10)]
    run(store.recordings.append("rec-e", more, LAYOUT, 0.0, 1_000_000, 100_000))
    assert run(store.recordings.span("rec-e")).entries == 100


def test_the_newest_entry_stays_whatever_it_weighs(store: Store, run: Run) -> None:
    entries = [(T0 + n, weighing(n)) for n in range(3)]
    run(store.recordings.append("rec-f", entries, LAYOUT, 0.0, 1_000_000, 500))
    assert read(store, run, "rec-f") == [weighing(2)]


def test_a_recording_no_one_appends_to_expires_with_its_days(store: Store, run: Run) -> None:
    append(store, run, "rec-g", [T0], keep_since=T0 - WEEK)
    run(time_passes(store, T0 + WEEK - 60, WEEK - 60))
    assert run(store.recordings.span("rec-g")).entries == 1
    run(time_passes(store, T0 + WEEK + 60, 120))
    assert run(store.recordings.span("rec-g")).entries == 0
    assert run(store.recordings.layouts("rec-g")) == {}
