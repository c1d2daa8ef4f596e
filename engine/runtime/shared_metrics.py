"""/metrics for the whole engine when it runs several workers (``ondo serve
--workers N``): whichever worker the kernel hands a scrape to, it answers with
the sum of every worker's figures, not its own share.

Each worker writes its figures to ``DIRECTORY/PID.json`` once a second (written
beside, then renamed, so a reader never sees half a file); a scrape adds its
own figures of the moment to the files of the other workers that are still
running. A worker that died (and was replaced by its supervisor) still counts
with its last figures, but for its connections: a sum of counters must never go
down, or Prometheus takes it for a restart of all the others. The directory is
emptied when ``ondo serve`` starts, which is a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.runtime.metrics import Histogram, Metrics

Totals = Mapping[tuple[str, str], int]


def snapshot(metrics: Metrics, totals: Totals, store_errors: int) -> dict[str, Any]:
    """One worker's figures, as JSON."""
    return {
        "events": dict(metrics.events), "errors": dict(metrics.errors),
        "closes": {str(k): v for k, v in metrics.closes.items()},
        "stages": {k: _histogram(h) for k, h in metrics.stages.items()},
        "pauses": {k: _histogram(h) for k, h in metrics.pauses.items()},
        "connections": metrics.connections, "forged": metrics.forged_identities,
        "recorded": metrics.recorded, "recording_dropped": metrics.recording_dropped,
        "recording_props_dropped": metrics.recording_props_dropped,
        "rules": [[site, name, n] for (site, name), n in totals.items()],
        "store_errors": store_errors,
        "counts_refused": metrics.counts_refused,
        "task_restarts": dict(metrics.task_restarts),
        "jobs": dict(metrics.jobs),
        "tasks_failing": sorted(metrics.tasks_failing),
    }


def merge(own: Metrics, snapshots: list[dict[str, Any]]) -> tuple[Metrics, Counter[
        tuple[str, str]], int]:
    """The sum of the snapshots, as one Metrics to render (the matcher and the
    per-process gauges are the answering worker's), the per-rule totals and the
    storage errors."""
    out = Metrics(matcher=own.matcher)
    totals: Counter[tuple[str, str]] = Counter()
    errors = 0
    for snap in snapshots:
        out.events.update(snap["events"])
        out.errors.update(snap["errors"])
        out.closes.update({int(k): v for k, v in snap["closes"].items()})
        for field, into in (("stages", out.stages), ("pauses", out.pauses)):
            for name, data in snap[field].items():
                hist = into.setdefault(name, Histogram())
                hist.counts = [a + b for a, b in zip(hist.counts, data["counts"], strict=True)]
                hist.total += data["total"]
                hist.n += data["n"]
        out.connections += snap["connections"]
        out.forged_identities += snap["forged"]
        out.recorded += snap.get("recorded", 0)  # an older worker's snapshot has none
        out.recording_dropped += snap.get("recording_dropped", 0)
        out.recording_props_dropped += snap.get("recording_props_dropped", 0)
        totals.update({(site, name): n for site, name, n in snap["rules"]})
        errors += snap["store_errors"]
        out.counts_refused += snap.get("counts_refused", 0)
        out.task_restarts.update(snap.get("task_restarts", {}))
        out.jobs.update(snap.get("jobs", {}))
        out.failing_workers.update(snap.get("tasks_failing", []))
    return out, totals, errors


class SharedMetrics:
    def __init__(self, directory: Path, metrics: Metrics, totals: Callable[[], Totals],
                 store_errors: Callable[[], int]) -> None:
        self.directory = directory
        self.metrics = metrics
        self.totals = totals
        self.store_errors = store_errors
        self.pid = os.getpid()

    def own(self) -> dict[str, Any]:
        return snapshot(self.metrics, self.totals(), self.store_errors())

    def write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.pid}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.own()), encoding="utf-8")
        temporary.replace(path)

    def merged(self) -> tuple[Metrics, Counter[tuple[str, str]], int]:
        snapshots = [self.own()]
        for path in self.directory.glob("*.json"):
            pid = int(path.stem) if path.stem.isdigit() else 0
            if pid == self.pid:
                continue
            with contextlib.suppress(OSError, ValueError):
                snap = json.loads(path.read_text(encoding="utf-8"))
                if not _running(pid):
                    snap["connections"] = 0  # its sockets closed with it
                    snap["tasks_failing"] = []
                snapshots.append(snap)
        return merge(self.metrics, snapshots)

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Write the figures every ``every`` seconds, and once more at the end,
        with no connection left (the other workers go on counting them)."""
        while not stop.is_set():
            with contextlib.suppress(OSError):
                self.write()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
        with contextlib.suppress(OSError):
            self.metrics.connections = 0
            self.write()


def _histogram(hist: Histogram) -> dict[str, Any]:
    return {"counts": list(hist.counts), "total": hist.total, "n": hist.n}


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
