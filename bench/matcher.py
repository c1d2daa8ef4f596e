"""Matcher micro-benchmark: ``python -m bench.matcher [--quick] [--record]``.

For generated rulesets of 10, 100, 1,000 and 10,000 rules it times, over a
population of generated profiles: the reference evaluator (rules.evaluate),
a closure-compiled pure-Python evaluator (bench/closures.py), the whole
ruleset generated as one Python function (bench/codegen.py) and the Cython
matcher, each as the median of several runs, in µs per profile, with the
ratios and the one-time costs (compile the file, generate the function, build
the Matcher). It also times the fixed per-profile cost apart: the Cython
matcher's profile -> state step, as the Matcher of the same predicates with no
rule (same attributes read and type-checked, same state-step predicates, an
empty hot loop), and likewise the generated function's reads and checks.
Before timing, every evaluator must return what rules.evaluate returns on
every profile of the population, or the run stops.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rules
from bench.closures import ClosureEvaluator
from bench.codegen import CodegenEvaluator
from bench.workload import population, rule_file
from engine.matcher import matcher_class
from rules.ruleset import Ruleset

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


def no_rules(ruleset: Ruleset) -> Ruleset:
    """The same predicates and no rule: matching it costs what every profile
    costs before any rule is looked at (reading and type-checking the
    attributes, the Cython state step's predicates)."""
    return Ruleset(ruleset.site, ruleset.timezone, ruleset.predicates, ())


def check_agreement(name: str, match: Callable[[dict[str, Any]], list[str]],
                    profiles: list[dict[str, Any]], expected: list[list[str]]) -> None:
    """Stop the run unless ``match`` returns the reference's ids on every profile."""
    for number, (profile, want) in enumerate(zip(profiles, expected, strict=True)):
        got = match(profile)
        if got != want:
            missing = [r for r in want if r not in got][:10]
            extra = [r for r in got if r not in want][:10]
            raise SystemExit(
                f"bench.matcher: {name} disagrees with rules.evaluate on profile #{number}: "
                f"{len(got)} ids against {len(want)} (missing {missing}, extra {extra}"
                f"{', same ids in another order' if not missing and not extra else ''})\n"
                f"profile: {profile!r}")


@dataclass(frozen=True)
class Row:
    size: int
    predicates: int
    share: float  # of rules matching a profile, on average
    ref: float  # µs per profile, medians
    clo: float
    gen: float
    cy: float
    cy_lo: float
    cy_hi: float
    cy_fixed: float  # the Cython profile -> state step
    gen_fixed: float  # the generated function's reads and type checks
    compile_ms: float
    gen_ms: float
    build_ms: float


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
        start = time.perf_counter()
        codegen = CodegenEvaluator(ruleset)
        gen_ms = (time.perf_counter() - start) * 1e3
        expected = [rules.evaluate(ruleset, p) for p in people]
        for name, match in (("closures", closures.match), ("codegen", codegen.match),
                            ("the Cython matcher", matcher.match)):
            check_agreement(f"{name} at {size:,} rules", match, people, expected)
        matched = sum(map(len, expected)) / len(people) / max(size, 1)
        ref_sample = people[: max(20, len(people) // (1 + size // 100))]
        ref, _ = per_profile_us(functools.partial(rules.evaluate, ruleset), ref_sample, runs)
        clo, _ = per_profile_us(closures.match, people, runs)
        gen, _ = per_profile_us(codegen.match, people, runs)
        cy, cy_samples = per_profile_us(matcher.match, people, runs)
        cy_fixed, _ = per_profile_us(Matcher(no_rules(ruleset)).match, people, runs)
        gen_fixed, _ = per_profile_us(CodegenEvaluator(no_rules(ruleset)).match, people, runs)
        rows.append(Row(size, len(ruleset.predicates), matched, ref, clo, gen, cy,
                        min(cy_samples), max(cy_samples), cy_fixed, gen_fixed, compile_ms,
                        gen_ms, build_ms))
        print(f"{size:>6} rules: reference {ref:9.1f} µs  closures {clo:8.1f} µs  "
              f"codegen {gen:7.1f} µs  cython {cy:6.2f} µs (fixed {cy_fixed:4.2f})  "
              f"({ref / cy:5.0f}x, {clo / cy:4.0f}x, {gen / cy:4.1f}x)", file=sys.stderr)
    table = render(rows, runs, len(people), args)
    print(table)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + table)
    return 0


def render(rows: list[Row], runs: int, n_people: int, args: Any) -> str:
    command = "python -m bench.matcher" + (" --quick" if args.quick else "")
    lines = [
        f"### Matcher — {datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- {n_people} generated profiles, median of {runs} runs (Cython min–max shown); "
        "rules match ~ the share shown per rule",
        "- codegen: the ruleset as one generated Python function (bench/codegen.py); "
        "×codegen = codegen µs / Cython µs",
        "- fixed µs: the per-profile cost before any rule, timed on the same predicates "
        "with no rule: Cython's profile -> state step / codegen's reads and type checks",
        "",
        "| rules | distinct predicates | match share/rule | reference µs | closures µs | "
        "codegen µs | Cython µs (min–max) | fixed µs Cython / codegen | ref/Cython | "
        "closures/Cython | ×codegen | compile ms | codegen build ms | Matcher build ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.size:,} | {r.predicates:,} | {r.share:.1%} | {r.ref:,.1f} | {r.clo:,.1f} | "
            f"{r.gen:,.1f} | {r.cy:.2f} ({r.cy_lo:.2f}–{r.cy_hi:.2f}) | "
            f"{r.cy_fixed:.2f} / {r.gen_fixed:.2f} | {r.ref / r.cy:,.0f}× | "
            f"{r.clo / r.cy:,.0f}× | {r.gen / r.cy:,.1f}× | {r.compile_ms:,.0f} | "
            f"{r.gen_ms:,.0f} | {r.build_ms:,.1f} |")
    base = next((r for r in rows if r.size == 1000), None)
    top = next((r for r in rows if r.size == 10000), None)
    if base and top:
        lines += ["", f"10,000 rules cost {top.cy / base.cy:.1f}× the 1,000-rule time "
                  f"(target ≤ 5×); codegen {top.gen / base.gen:.1f}×."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
