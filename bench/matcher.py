"""Matcher micro-benchmark: ``python -m bench.matcher [--quick] [--record]``.

For generated rulesets of 10, 100, 1,000 and 10,000 rules it times, over a
population of generated profiles: the reference evaluator (rules.evaluate),
a closure-compiled pure-Python evaluator (bench/closures.py) and the Cython
matcher, each as the median of several runs, in µs per profile, with the
ratios and the one-time costs (compile the file, build the Matcher).
``--record`` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rules
from bench.closures import ClosureEvaluator
from bench.workload import population, rule_file
from engine.matcher import matcher_class

RESULTS = Path(__file__).with_name("RESULTS.md")


def per_profile_us(match: Callable[[dict[str, Any]], Any], profiles: list[dict[str, Any]],
                   runs: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for profile in profiles:
            match(profile)
        samples.append((time.perf_counter() - start) / len(profiles) * 1e6)
    return statistics.median(samples), samples


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matcher")
    parser.add_argument("--quick", action="store_true", help="fewer profiles and runs (<30 s)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--sizes", default="10,100,1000,10000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    people = population(300 if args.quick else 2000)
    runs = 3 if args.quick else 7
    Matcher = matcher_class()
    rows = []
    for size in sizes:
        text = rule_file(size)
        start = time.perf_counter()
        ruleset = rules.load(text)
        compile_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        matcher = Matcher(ruleset)
        build_ms = (time.perf_counter() - start) * 1e3
        closures = ClosureEvaluator(ruleset)
        matched = sum(len(matcher.match(p)) for p in people) / len(people) / max(size, 1)
        ref_sample = people[: max(20, len(people) // (1 + size // 100))]
        ref, _ = per_profile_us(functools.partial(rules.evaluate, ruleset), ref_sample, runs)
        clo, _ = per_profile_us(closures.match, people, runs)
        cy, cy_samples = per_profile_us(matcher.match, people, runs)
        rows.append((size, len(ruleset.predicates), matched, ref, clo, cy, min(cy_samples),
                     max(cy_samples), compile_ms, build_ms))
        print(f"{size:>6} rules: reference {ref:9.1f} µs  closures {clo:8.1f} µs  "
              f"cython {cy:6.2f} µs  ({ref / cy:5.0f}x, {clo / cy:4.0f}x)", file=sys.stderr)
    table = render(rows, runs, len(people), args)
    print(table)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + table)
    return 0


def render(rows: list[tuple[Any, ...]], runs: int, n_people: int, args: Any) -> str:
    command = "python -m bench.matcher" + (" --quick" if args.quick else "")
    base = next((r for r in rows if r[0] == 1000), None)
    lines = [
        f"### Matcher — {datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- {n_people} generated profiles, median of {runs} runs (Cython min–max shown); "
        "rules match ~ the share shown per rule",
        "",
        "| rules | distinct predicates | match share/rule | reference µs | closures µs | "
        "Cython µs (min–max) | ref/Cython | closures/Cython | compile ms | Matcher build ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, preds, share, ref, clo, cy, lo, hi, comp, build in rows:
        lines.append(f"| {size:,} | {preds:,} | {share:.1%} | {ref:,.1f} | {clo:,.1f} | "
                     f"{cy:.2f} ({lo:.2f}–{hi:.2f}) | {ref / cy:,.0f}× | {clo / cy:,.0f}× | "
                     f"{comp:,.0f} | {build:,.1f} |")
    top = next((r for r in rows if r[0] == 10000), None)
    if base and top:
        lines += ["", f"10,000 rules cost {top[5] / base[5]:.1f}× the 1,000-rule time "
                  "(target ≤ 5×)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
