"""Prometheus text metrics, kept in-process (one registry per engine process)."""

from __future__ import annotations

import bisect
import gc
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.delivery.counters import OUTCOMES
from engine.wire.protocol import Frame, ServerFrame


def label(value: object) -> str:
    """A label value as the exposition format requires: backslash, double
    quote and newline escaped, so no value can end its line early."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1


class SiteRates:
    """Events per second of each site on this process, over the last ``span``
    whole seconds (the console's live figure)."""

    def __init__(self, span: int = 10) -> None:
        self.span = span
        self._seconds: dict[str, dict[int, int]] = {}

    def tick(self, site: str, now: float) -> None:
        second = int(now)
        counts = self._seconds.setdefault(site, {})
        counts[second] = counts.get(second, 0) + 1
        if len(counts) > self.span + 1:
            for old in [s for s in counts if s < second - self.span]:
                del counts[old]

    def per_second(self, site: str, now: float) -> float:
        second = int(now)
        counts = self._seconds.get(site, {})
        return sum(n for s, n in counts.items() if second - self.span <= s < second) / self.span


@dataclass
class Metrics:
    events: Counter[str] = field(default_factory=Counter)  # by event kind
    errors: Counter[str] = field(default_factory=Counter)  # error frames by code
    closes: Counter[int] = field(default_factory=Counter)
    stages: dict[str, Histogram] = field(default_factory=dict)
    pauses: dict[str, Histogram] = field(default_factory=dict)  # engine/runtime/stalls.py
    connections: int = 0
    forged_identities: int = 0
    recorded: int = 0  # entries written for forecasts (engine/forecast/recorder.py)
    recording_dropped: int = 0  # entries lost to a long storage outage
    recording_props_dropped: int = 0  # entries recorded without their props (the budget)
    counts_refused: int = 0  # statistics the store refused: a sum past its integers
    matcher: str = "cython"
    rates: SiteRates = field(default_factory=SiteRates)
    # The supervised tasks (engine/runtime/supervisor.py): restarts by task, and
    # those failing now (a gauge of 0 or 1 per task; summed over workers).
    task_restarts: Counter[str] = field(default_factory=Counter)
    tasks_failing: set[str] = field(default_factory=set)
    jobs: Counter[str] = field(default_factory=Counter)  # heavy admin jobs by outcome (jobs.py)
    failing_workers: Counter[str] = field(default_factory=Counter)  # other workers'

    def event(self, site: str, kind: str) -> None:
        self.events[kind] += 1
        self.rates.tick(site, time.monotonic())

    def refused(self, counts: int) -> None:
        """Statistics the store would not add (engine/delivery/counters.py)."""
        self.counts_refused += counts

    def sent(self, frames: list[Frame]) -> None:
        """Count the error frames among frames answered to a client."""
        for frame in frames:
            if frame.get("t") == ServerFrame.ERROR:
                self.errors[frame["code"]] += 1

    def stage(self, name: str, seconds: float) -> None:
        histogram = self.stages.get(name)
        if histogram is None:
            histogram = self.stages[name] = Histogram()
        histogram.observe(seconds)

    def pause(self, cause: str, seconds: float) -> None:
        histogram = self.pauses.get(cause)
        if histogram is None:
            histogram = self.pauses[cause] = Histogram()
        histogram.observe(seconds)

    def render(self, rule_counts: Mapping[tuple[str, str], int] | None = None,
               store_errors: int = 0) -> str:
        """The Prometheus text; ``rule_counts`` are the per-rule counters'
        totals since start ((site, "rule|what") -> n, engine/delivery/counters.py),
        ``store_errors`` the times the storage could not be reached (the store counts)."""
        out = [
            "# TYPE ondo_connections gauge", f"ondo_connections {self.connections}",
            "# TYPE ondo_matcher_info gauge",
            f'ondo_matcher_info{{implementation="{self.matcher}"}} 1',
            "# TYPE ondo_redis_errors_total counter",
            f"ondo_redis_errors_total {store_errors}",
            "# TYPE ondo_forged_identify_total counter",
            f"ondo_forged_identify_total {self.forged_identities}",
            "# TYPE ondo_recorded_total counter", f"ondo_recorded_total {self.recorded}",
            "# TYPE ondo_recording_dropped_total counter",
            f"ondo_recording_dropped_total {self.recording_dropped}",
            "# TYPE ondo_recording_props_dropped_total counter",
            f"ondo_recording_props_dropped_total {self.recording_props_dropped}",
            "# TYPE ondo_counts_refused_total counter",
            f"ondo_counts_refused_total {self.counts_refused}",
            "# TYPE ondo_process_id gauge", f"ondo_process_id {os.getpid()}",
            "# TYPE ondo_gc_threshold gauge",
            *(f'ondo_gc_threshold{{generation="{g}"}} {n}'
              for g, n in enumerate(gc.get_threshold())),
            "# TYPE ondo_gc_collections_total counter",
            *(f'ondo_gc_collections_total{{generation="{g}"}} {stats["collections"]}'
              for g, stats in enumerate(gc.get_stats())),
            "# TYPE ondo_events_total counter",
        ]
        out += [f'ondo_events_total{{kind="{label(k)}"}} {v}'
                for k, v in sorted(self.events.items())]
        out.append("# TYPE ondo_error_frames_total counter")
        out += [f'ondo_error_frames_total{{code="{label(k)}"}} {v}'
                for k, v in sorted(self.errors.items())]
        out.append("# TYPE ondo_closes_total counter")
        out += [f'ondo_closes_total{{code="{k}"}} {v}' for k, v in sorted(self.closes.items())]
        matched, outcomes, reports = ("ondo_rule_matched_total", "ondo_rule_outcomes_total",
                                      "ondo_rule_reports_total")
        families: dict[str, list[str]] = {matched: [], outcomes: [], reports: []}
        for (site, name), n in sorted((rule_counts or {}).items()):
            rule, _, what = name.rpartition("|")
            labels = f'site="{label(site)}",rule="{label(rule)}"'
            if what == "matched":
                families[matched].append(f"{matched}{{{labels}}} {n}")
            elif what in OUTCOMES:
                families[outcomes].append(
                    f'{outcomes}{{{labels},outcome="{label(what)}"}} {n}')
            else:
                families[reports].append(f'{reports}{{{labels},what="{label(what)}"}} {n}')
        for family, lines in families.items():
            out += [f"# TYPE {family} counter", *lines]
        out.append("# TYPE ondo_jobs_total counter")
        out += [f'ondo_jobs_total{{outcome="{label(k)}"}} {v}'
                for k, v in sorted(self.jobs.items())]
        out.append("# TYPE ondo_task_restarts_total counter")
        out += [f'ondo_task_restarts_total{{task="{label(k)}"}} {v}'
                for k, v in sorted(self.task_restarts.items())]
        out.append("# TYPE ondo_task_failing gauge")
        out += [f'ondo_task_failing{{task="{label(k)}"}} '
                f'{self.failing_workers[k] + (k in self.tasks_failing)}'
                for k in sorted(self.task_restarts)]
        out += _histograms("ondo_stage_seconds", "stage", self.stages)
        out += _histograms("ondo_pause_seconds", "cause", self.pauses)
        return "\n".join(out) + "\n"


def _histograms(family: str, name: str, histograms: Mapping[str, Histogram]) -> list[str]:
    out = [f"# TYPE {family} histogram"]
    for value, hist in sorted(histograms.items()):
        cumulative = 0
        for bound, count in zip((*BUCKETS, float("inf")), hist.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{family}_bucket{{{name}="{value}",le="{le}"}} {cumulative}')
        out.append(f'{family}_sum{{{name}="{value}"}} {hist.total}')
        out.append(f'{family}_count{{{name}="{value}"}} {hist.n}')
    return out
