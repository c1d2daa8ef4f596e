"""The load test: ``python -m bench.load [--quick] [--record] ...`` (also ``ondo bench``).

Starts a redis-server, the engine (one uvicorn worker, pinned to CPU 0) with
the rule library plus N generated rules, and the two references on the same
stack — (A) a bare websocket echo, (B) the echo doing one redis.asyncio
EVALSHA per message — then drives each in turn, round after round, with the
same frames from load-generator processes pinned to the other CPU (with
redis-server): V concurrent visitors walking shopping journeys (reporting
the actions they are shown, as the widget does), closed-loop (max
throughput; the engine's visitors within the protocol's 20 events/s per
connection, the references' unpaced) or open-loop at a target rate (latency
from the intended send time). Reports throughput, latency percentiles and
errors per target, the engine beside A and B as ratios, medians of --runs.
Loopback only; every run is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.histogram import Histogram
from bench.loadgen import Plan, run_process
from bench.matcher import RESULTS, machine
from bench.workload import site_file, sites_toml
from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.runtime.local_cluster import LocalCluster

ORIGIN = "http://bench.local"
WARMUP = 2.0  # seconds of load before each measured window, not counted


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _pin(cpu: int) -> None:
    _pin_process(0, cpu)


def _pin_process(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


@contextlib.contextmanager
def server(command: list[str], port: int, pin: bool = True) -> Iterator[str]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=(lambda: _pin(0)) if pin else None)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{command[:4]} exited: {err[-500:]}")
            try:
                urllib.request.urlopen(url + "/healthz", timeout=0.5).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a reference server has no /healthz)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[:4]} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()


def drive(port: int | list[int], site: str, visitors: int, duration: float, rate: float,
          processes: int, seed: int, msgpack: bool = False,
          warmup: float = WARMUP, origin: str = ORIGIN, paced: bool = True) -> dict[str, Any]:
    """Drive the server(s) on ``port``: with several (engine nodes), load
    generator i drives port i mod n, as a balancer would spread visitors."""
    ports = port if isinstance(port, list) else [port]
    plans = [Plan("127.0.0.1", ports[i % len(ports)], site, origin,
                  visitors // processes + (i < visitors % processes),
                  duration, rate / processes, seed * 100 + i, msgpack=msgpack, warmup=warmup,
                  paced=paced)
             for i in range(processes)]
    cpu = 1 if (os.cpu_count() or 1) > 1 else None
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        parts = pool.starmap(run_process, [(plan, cpu) for plan in plans])
    latency = Histogram()
    out: dict[str, Any] = {"sent": 0, "acked": 0, "errors": {}, "actions": {}, "refused": 0}
    timeline: dict[int, list[float]] = {}
    for part in parts:
        latency.merge(Histogram(part["counts"], part["total"], part["max"]))
        for window, micros in part["timeline"].items():
            timeline.setdefault(window, []).extend(micros)
        out["sent"] += part["sent"]
        out["acked"] += part["acked"]
        out["refused"] += part["refused"]
        for key in ("errors", "actions"):
            for name, n in part[key].items():
                out[key][name] = out[key].get(name, 0) + n
    out["latency"] = latency
    out["throughput"] = out["acked"] / duration
    out["timeline"] = timeline
    return out


def stage_means(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    sums = dict(re.findall(r'ondo_stage_seconds_sum\{stage="(\w+)"\} ([0-9.e+-]+)', text))
    counts = dict(re.findall(r'ondo_stage_seconds_count\{stage="(\w+)"\} (\d+)', text))
    return {k: float(sums[k]) / int(counts[k]) * 1e6 for k in sums if int(counts.get(k, 0))}


def pauses(url: str) -> dict[str, tuple[int, float, int, float]]:
    """The engine's pauses since it started (ondo_pause_seconds, engine/runtime/
    stalls.py): cause -> (count, mean ms, count over 5 ms, max bucket bound ms)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    out = {}
    for cause, n in re.findall(r'ondo_pause_seconds_count\{cause="(\w+)"\} (\d+)', text):
        total = float(re.findall(rf'ondo_pause_seconds_sum\{{cause="{cause}"\}} (\S+)',
                                 text)[0])
        buckets = [(float(le) if le != "+Inf" else float("inf"), int(c)) for le, c in
                   re.findall(rf'ondo_pause_seconds_bucket\{{cause="{cause}",le="([^"]+)"\}} '
                              r"(\d+)", text)]
        under_5ms = next(c for le, c in buckets if le >= 0.005)
        worst = next((le for le, c in buckets if c == int(n)), float("inf"))
        out[cause] = (int(n), total / max(int(n), 1) * 1e3, int(n) - under_5ms, worst * 1e3)
    return out


@dataclasses.dataclass(frozen=True)
class Running:
    """An engine that is already running (``--url``): on loopback, with a
    site whose origins allow ``origin``."""

    port: int
    site: str
    origin: str

    @classmethod
    def parse(cls, url: str, site: str, origin: str) -> Running:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1") or not parts.port:
            raise SystemExit(f"--url {url}: the load test runs on loopback only "
                             "(http://127.0.0.1:PORT)")
        return cls(parts.port, site, origin)


def run_targets(targets: list[str], *, rules: int, visitors: int, duration: float,
                rate: float, processes: int, runs: int, workers: int = 1,
                msgpack: bool = False, warmup: float = WARMUP, running: Running | None = None,
                live: bool = True, redis: str = "single", nodes: int = 1,
                ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Start the targets (but a ``running`` engine) and drive each of them once per
    round, ``runs`` rounds. ``redis``: one redis-server, or a local cluster of 3
    masters and 3 replicas; ``nodes``: engine processes sharing it."""
    results: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    stages: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        redis_server: EmbeddedRedis | LocalCluster
        if redis == "cluster":
            redis_server = LocalCluster(data / "cluster").start()
            for process in redis_server.processes.values():
                _pin_process(process.pid, 1)
        else:
            redis_server = EmbeddedRedis(data / "redis", persist=False).start()
            if redis_server.process is not None:
                _pin_process(redis_server.process.pid, 1)  # beside the load generators
        rules_path = data / "rules.yaml"
        rules_path.write_text(site_file(rules, live=live), encoding="utf-8")
        (data / "sites.toml").write_text(sites_toml(rules_path, ORIGIN), encoding="utf-8")
        python = sys.executable
        commands = {
            "echo": [python, "-m", "bench.reference", "--kind", "echo"],
            "redis": [python, "-m", "bench.reference", "--kind", "redis", "--redis",
                      redis_server.url],
            "engine": [python, "-m", "engine", "serve", "--config", str(data / "sites.toml"),
                       "--redis", redis_server.url, "--workers", str(workers)],
        }
        try:
            with contextlib.ExitStack() as started:
                ports: dict[str, list[int]] = {}
                for target in targets:
                    if target == "engine" and running is not None:
                        ports[target] = [running.port]
                        continue
                    ports[target] = [free_port() for _ in range(
                        nodes if target == "engine" else 1)]
                    for port in ports[target]:
                        started.enter_context(server(
                            [*commands[target], "--port", str(port)], port,
                            pin=(workers == 1 and nodes == 1) or target != "engine"))
                # Rounds, not one target after the other: this machine's noise comes and
                # goes over minutes, and each target's runs should meet the same noise.
                for run in range(runs):
                    for target in targets:
                        print(f"{target}: run {run + 1}/{runs}", file=sys.stderr)
                        site, origin = ((running.site, running.origin)
                                        if running is not None and target == "engine"
                                        else ("bench", ORIGIN))
                        results[target].append(drive(
                            ports[target], site, visitors, duration, rate, processes,
                            run + 1, msgpack=msgpack and target == "engine", warmup=warmup,
                            origin=origin, paced=target == "engine"))
                if "engine" in ports and workers == 1 and nodes == 1:
                    stages.update(stage_means(f"http://127.0.0.1:{ports['engine'][0]}"))
                    for cause, figures in pauses(
                            f"http://127.0.0.1:{ports['engine'][0]}").items():
                        stages[f"pause:{cause}"] = figures
        finally:
            redis_server.stop()
    return results, stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run under 60 s")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=WARMUP,
                        help="seconds of load before each run's measured window")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop at this many events/s in total (0: closed loop)")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="engine worker processes")
    parser.add_argument("--redis", choices=["single", "cluster"], default="single",
                        help="one redis-server, or a local Redis Cluster (3 masters + 3 "
                             "replicas) for the engine and reference B")
    parser.add_argument("--nodes", type=int, default=1,
                        help="engine processes on the same Redis, each driven by its share "
                             "of the load generators (--processes)")
    parser.add_argument("--targets", default="echo,redis,engine")
    parser.add_argument("--frames", choices=["json", "msgpack"], default="json",
                        help="frames for the engine (the references speak JSON)")
    parser.add_argument("--sweep", choices=["rate", "rules", "visitors", "workers", "frames"],
                        help="vary one dimension (see bench/sweeps.py)")
    parser.add_argument("--without-live", action="store_true",
                        help="leave out the library's recipes that read live counters")
    parser.add_argument("--timeline", type=Path, metavar="PNG",
                        help="plot each target's p99 per 100 ms window against time (needs "
                             ".[bench]) and add how many windows missed the target")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--url", help="drive this running engine (loopback, e.g. "
                        "http://127.0.0.1:8000) instead of starting one")
    parser.add_argument("--site", default="demo-shop", help="with --url: the site to visit")
    parser.add_argument("--origin", default="http://127.0.0.1:8000",
                        help="with --url: an origin that site allows")
    args = parser.parse_args(argv)
    if args.quick:
        args.visitors, args.duration, args.runs, args.rules = (min(args.visitors, 500), 4.0,
                                                               1, min(args.rules, 1000))
        args.warmup = min(args.warmup, 1.0)
    fds = raise_fd_limit()
    if args.sweep:
        from bench.sweeps import sweep

        table = sweep(args, fds)
    else:
        results, stages = run_targets(
            args.targets.split(","), rules=args.rules, visitors=args.visitors,
            duration=args.duration, rate=args.rate, processes=args.processes, runs=args.runs,
            workers=args.workers, msgpack=args.frames == "msgpack", warmup=args.warmup,
            running=Running.parse(args.url, args.site, args.origin) if args.url else None,
            live=not args.without_live, redis=args.redis, nodes=args.nodes)
        table = report(results, stages, args, fds)
        if args.timeline:
            from bench.timeline import plot, summary

            table += "\n".join(summary(results)) + "\n"
            plot(results, args.timeline,
                 table.splitlines()[2].removeprefix("- command: ").strip("`"))
    print(table)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + table)
    return 0


def paired_ratio(results: dict[str, list[dict[str, Any]]], target: str,
                 reference: str) -> float:
    """The median, over rounds, of target/reference throughput within a round:
    the noise of this machine drifts over minutes, and a round's targets share it."""
    ours, theirs = results.get(target) or [], results.get(reference) or []
    if not ours or len(ours) != len(theirs):
        return float("nan")
    return float(statistics.median(a["throughput"] / b["throughput"]
                                   for a, b in zip(ours, theirs, strict=True)))


def placement(args: argparse.Namespace) -> str:
    if args.nodes == 1 and args.workers == 1 and args.redis == "single":
        return "the server under test pinned to CPU 0; redis-server"
    store = ("a local Redis Cluster (3 masters + 3 replicas)" if args.redis == "cluster"
             else "redis-server")
    return f"{args.nodes} engine node(s) of {args.workers} worker(s), unpinned; {store}"


def report(results: dict[str, list[dict[str, Any]]], stages: dict[str, Any],
           args: argparse.Namespace, fds: int) -> str:
    mode = f"open loop at {args.rate:,.0f} events/s" if args.rate else "closed loop"
    command = "python -m bench.load " + " ".join(a for a in sys.argv[1:]) if sys.argv[1:] \
        else "python -m bench.load"
    lines = [f"### Load — {datetime.date.today().isoformat()}", "",
             f"- command: `{command.strip()}`",
             f"- machine: {machine()}; {placement(args)} and {args.processes} load-generator "
             f"processes on CPU 1; fd limit {fds}",
             f"- {args.visitors:,} visitors, {mode}, {args.duration:g} s per run after "
             f"{args.warmup:g} s of warm-up; " + (
                 f"the engine at {args.url} (site {args.site}, its own rules)" if args.url else
                 f"the engine runs the rule library"
                 f"{' (without its live-counter recipes)' if args.without_live else ''} plus "
                 f"{args.rules:,} generated rules") +
             "; medians of "
             f"{args.runs} rounds (min–max); ×A and ×B are the median of the ratios within "
             "each round (a round runs A, B and the engine back to back)", "",
             "| target | events/s | ×A | ×B | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | "
             "errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    medians = {t: statistics.median(r["throughput"] for r in rs) for t, rs in results.items()
               if rs}
    names = {"echo": "A: bare echo", "redis": "B: echo + redis.asyncio EVALSHA",
             "engine": "Ondo engine"}
    for target, runs in results.items():
        if not runs:
            continue
        best = sorted(runs, key=lambda r: r["throughput"])[len(runs) // 2]
        lat: Histogram = best["latency"]
        low, high = (f(r["throughput"] for r in runs) for f in (min, max))
        spread = f"{low:,.0f}–{high:,.0f}"
        totals: dict[str, int] = {}
        for r in runs:
            for code, n in r["errors"].items():
                totals[code] = totals.get(code, 0) + n
        errors = totals or "none"
        ratio_a, ratio_b = (paired_ratio(results, target, ref) for ref in ("echo", "redis"))
        lines.append(
            f"| {names[target]} | {medians[target]:,.0f} ({spread}) | {ratio_a:.2f} | "
            f"{ratio_b:.2f} | {lat.percentile(50) / 1e3:.2f} | {lat.percentile(90) / 1e3:.2f} | "
            f"{lat.percentile(99) / 1e3:.2f} | {lat.percentile(99.9) / 1e3:.2f} | "
            f"{lat.max_us / 1e3:.1f} | {errors} |")
    means = {k: v for k, v in stages.items() if not k.startswith("pause:")}
    if means:
        lines += ["", "Engine stages (mean µs per event, from /metrics): " + ", ".join(
            f"{k} {v:.0f}" for k, v in sorted(means.items()))]
    held = {k.removeprefix("pause:"): v for k, v in stages.items() if k.startswith("pause:")}
    if held:
        lines.append("Engine pauses since it started (count, mean ms, over 5 ms, the longest "
                     "within ms): " + "; ".join(
                         f"{cause} {n:,}, {mean:.2f}, {over:,}, ≤{worst:g}"
                         for cause, (n, mean, over, worst) in sorted(held.items())))
    engine_runs = results.get("engine") or []
    if engine_runs:
        actions = engine_runs[-1]["actions"]
        top = sorted(actions.items(), key=lambda kv: -kv[1])[:5]
        lines.append("Actions received (last run, top rules): " + (
            ", ".join(f"{k} {v}" for k, v in top) or "none"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
