"""Sweeps of the load test: ``python -m bench.load --sweep rate|rules|visitors|workers``.

- rate: open loop at rising offered rates on the engine and the bare echo (A):
  the latency–throughput curve up to saturation, plotted to bench/load-latency.png;
- rules: 10, 1,000 and 10,000 rules on the engine, closed loop;
- visitors: 100, 1,000 and 10,000 connected visitors, closed loop;
- workers: 1 vs 2 engine worker processes (the load generator then shares the CPUs);
- frames: JSON text frames vs msgpack binary frames on the engine.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
from pathlib import Path
from typing import Any

from bench.histogram import Histogram
from bench.matcher import machine

PLOT = Path(__file__).with_name("load-latency.png")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["throughput"])[len(runs) // 2]


def _row(label: str, runs: list[dict[str, Any]]) -> str:
    best = _median_run(runs)
    lat: Histogram = best["latency"]
    errors = sum(sum(r["errors"].values()) for r in runs)
    return (f"| {label} | {statistics.median(r['throughput'] for r in runs):,.0f} | "
            f"{lat.percentile(50) / 1e3:.2f} | {lat.percentile(99) / 1e3:.2f} | "
            f"{lat.percentile(99.9) / 1e3:.2f} | {errors} |")


def sweep(args: argparse.Namespace, fds: int) -> str:
    from bench.load import run_targets

    common = {"duration": args.duration, "processes": args.processes, "runs": args.runs,
              "warmup": args.warmup}
    rows: list[str] = []
    curves: dict[str, list[tuple[float, float, float, float]]] = {}
    if args.sweep == "rate":
        for target, rates in (("engine", [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000,
                                          9000]),
                              ("echo", [2000, 5000, 10000, 15000, 20000])):
            for rate in rates:
                results, _ = run_targets([target], rules=args.rules, visitors=args.visitors,
                                         rate=rate, **common)
                runs = results[target]
                rows.append(_row(f"{target} at {rate:,} offered/s", runs))
                lat = _median_run(runs)["latency"]
                curves.setdefault(target, []).append(
                    (statistics.median(r["throughput"] for r in runs),
                     lat.percentile(50) / 1e3, lat.percentile(99) / 1e3,
                     lat.percentile(99.9) / 1e3))
        _plot(curves)
    else:
        choices: dict[str, list[Any]] = {
            "rules": [10, 1000, 10000], "visitors": [100, 1000, 10000], "workers": [1, 2],
            "frames": ["json", "msgpack"]}
        values = choices[args.sweep]
        for value in values:
            settings: dict[str, Any] = {"rules": args.rules, "visitors": args.visitors,
                                        "workers": 1, "msgpack": False}
            if args.sweep == "frames":
                settings["msgpack"] = value == "msgpack"
            else:
                settings[args.sweep] = value
            results, _ = run_targets(["engine"], rate=args.rate, **settings, **common)
            label = f"{args.sweep} = {value:,}" if isinstance(value, int) else f"{value} frames"
            rows.append(_row(label, results["engine"]))
    head = [f"### Load sweep: {args.sweep} — {datetime.date.today().isoformat()}", "",
            f"- command: `python -m bench.load --sweep {args.sweep} --runs {args.runs} "
            f"--duration {args.duration:g} --warmup {args.warmup:g} --visitors {args.visitors} "
            f"--rules {args.rules}`",
            f"- machine: {machine()}; fd limit {fds}; medians of {args.runs} run(s)", "",
            "| point | events/s | p50 ms | p99 ms | p99.9 ms | errors |",
            "|---|---:|---:|---:|---:|---|"]
    tail = ["", f"![latency against throughput]({PLOT.name})"] if curves else []
    return "\n".join(head + rows + tail) + "\n"


def _plot(curves: dict[str, list[tuple[float, float, float, float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"engine": "tab:red", "echo": "tab:gray"}
    for target, points in curves.items():
        points.sort()
        x = [p[0] for p in points]
        for index, (name, dash) in enumerate((("p50", "-"), ("p99", "--"), ("p99.9", ":"))):
            ax.plot(x, [p[index + 1] for p in points], dash, color=styles.get(target),
                    marker="o", label=f"{'Ondo engine' if target == 'engine' else 'A: echo'} "
                    f"{name}")
    ax.set_xlabel("throughput (events/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Latency against throughput, one process on one core")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
