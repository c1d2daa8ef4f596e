"""Latency over time: the p99 of each 100 ms window of a load run
(``python -m bench.load --rate R --timeline PLOT.png``), for finding what
stalls a server, and when. A stall shows as a spike in the engine's line that
the references (A, B), driven the same way in the same round, do not have."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.loadgen import WINDOWS_PER_SECOND

TARGET_MS = 5.0  # the p99 target at half the engine's maximum (DESIGN, "Performance")
NAMES = {"echo": "A: bare echo", "redis": "B: echo + redis.asyncio EVALSHA",
         "engine": "Ondo engine"}


def p99_by_window(timeline: dict[int, list[float]]) -> list[tuple[float, float]]:
    """(start of the window in seconds, its p99 in ms), windows in order."""
    out = []
    for window in sorted(timeline):
        if window < 0:
            continue
        micros = sorted(timeline[window])
        rank = max(0, math.ceil(len(micros) * 0.99) - 1)
        out.append((window / WINDOWS_PER_SECOND, micros[rank] / 1e3))
    return out


def summary(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Per target: how many 100 ms windows, over every round, had a p99 over
    the target, and the worst three."""
    lines = ["", f"p99 per 100 ms window, over every round (target {TARGET_MS:g} ms):", "",
             "| target | windows | over target | worst windows (s into the run: p99 ms) |",
             "|---|---:|---:|---|"]
    for target, runs in results.items():
        windows = [(run_no, t, p99) for run_no, run in enumerate(runs, 1)
                   for t, p99 in p99_by_window(run.get("timeline") or {})]
        if not windows:
            continue
        over = sum(1 for *_, p99 in windows if p99 > TARGET_MS)
        worst = sorted(windows, key=lambda w: -w[2])[:3]
        lines.append(f"| {NAMES.get(target, target)} | {len(windows):,} | {over:,} "
                     f"({over / len(windows):.1%}) | " + ", ".join(
                         f"round {r} {t:.1f}: {p99:.1f}" for r, t, p99 in worst) + " |")
    return lines


def plot(results: dict[str, list[dict[str, Any]]], path: Path, title: str) -> None:
    """One panel per round: each target's p99 per window against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = max((len(runs) for runs in results.values()), default=0)
    if not rounds:
        return
    fig, axes = plt.subplots(rounds, 1, figsize=(9, 2.6 * rounds), sharex=True, squeeze=False)
    colours = {"echo": "tab:gray", "redis": "tab:blue", "engine": "tab:red"}
    for index in range(rounds):
        ax = axes[index][0]
        for target, runs in results.items():
            if index < len(runs):
                points = p99_by_window(runs[index].get("timeline") or {})
                ax.plot([t for t, _ in points], [p for _, p in points], linewidth=1,
                        color=colours.get(target), label=NAMES.get(target, target))
        ax.axhline(TARGET_MS, color="black", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_ylabel(f"round {index + 1}\np99 ms")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper right")
    axes[0][0].set_title(title, fontsize=9)
    axes[-1][0].set_xlabel("seconds into the measured window (100 ms windows)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
