"""What one event costs Redis: ``python -m bench.capacity [--redis single|cluster]
[--events N] [--visitors V] [--json]``, figures for a capacity model (docs/capacity.md).

Starts a redis-server (``single``) or a local Redis Cluster of 3 masters and 3
replicas (``cluster``), and the engine as bench/load.py starts it (the rule library
plus N generated rules, one worker pinned to CPU 0; Redis and the load generators
on CPU 1), then drives V visitors walking shopping journeys through it with
bench/loadgen.py, closed loop (or open loop with ``--rate``). After a warm-up it
takes ``INFO`` of every master, waits until the engine has handled ``--events``
more events (its /metrics ``ondo_events_total``), takes ``INFO`` again and
divides: Redis commands by name (``commandstats``), bytes into and out of Redis
(``total_net_input_bytes``/``total_net_output_bytes``), Redis CPU
(``used_cpu_user + used_cpu_sys``, beside the ``usec`` commandstats counts for the
commands the clients sent), all summed over the masters. After the run: Redis
memory per visitor (``used_memory`` against its value before the visitors came,
and ``MEMORY USAGE`` of the visitors' own keys). On a cluster, how the events
spread over the masters (each one's share of the EVALSHA calls and of the
visitors' profiles).

Figures per event hold at the load they were taken at: closed loop, the engine is
saturated and its store pipelines many concurrent calls per round trip, which
Redis reads with fewer system calls than one call per round trip. commandstats
``usec`` is wall time inside a command: on a CPU Redis shares (here with the load
generators, and on a cluster with five other nodes) it can exceed the CPU time.
The engine's Lua scripts are loaded into every master before the first event.
Loopback only; every run is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.load import ORIGIN, WARMUP, _pin_process, raise_fd_limit, server
from bench.loadgen import Plan, run_process
from bench.matcher import machine
from bench.workload import site_file, sites_toml
from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.runtime.local_cluster import LocalCluster
from engine.store.redis import LUA

SITE = "bench"
# Commands the engine's Lua scripts run: Redis counts them in commandstats too (and
# their time inside the EVALSHA's), so they are not commands a client sent.
SCRIPT_COMMANDS = frozenset(
    name.lower() for path in sorted(LUA.glob("*.lua"))
    for name in re.findall(r"redis\.p?call\(\s*[\"'](\w+)[\"']", path.read_text("utf-8")))
OURS = frozenset({"info"})  # this harness's own snapshots, left out of every figure


# -- Redis under test


@dataclasses.dataclass
class Target:
    """The Redis the engine uses: its URL and a client of every node, by port."""

    url: str
    masters: dict[int, redis.Redis]
    replicas: dict[int, redis.Redis]


@contextlib.contextmanager
def redis_target(kind: str, data: Path) -> Iterator[Target]:
    """A redis-server of its own, or a local 3+3 cluster, on CPU 1 (beside the load
    generators, as in bench/load.py); stopped on leaving."""
    clients: list[redis.Redis] = []
    if kind == "single":
        single = EmbeddedRedis(data / "redis", persist=False).start()
        try:
            if single.process is not None:
                _pin_process(single.process.pid, 1)
            client = redis.Redis(port=single.port, socket_timeout=10.0)
            clients.append(client)
            yield Target(single.url, {single.port: client}, {})
        finally:
            for client in clients:
                client.close()
            single.stop()
        return
    cluster = LocalCluster(data / "cluster")
    try:
        cluster.start()
        for process in cluster.processes.values():
            _pin_process(process.pid, 1)
        masters = set(cluster.masters_now())
        nodes = {port: redis.Redis(port=port, socket_timeout=10.0)
                 for port in cluster.live_ports()}
        clients += nodes.values()
        yield Target(cluster.url, {p: c for p, c in nodes.items() if p in masters},
                     {p: c for p, c in nodes.items() if p not in masters})
    finally:
        for client in clients:
            client.close()
        cluster.stop()


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One node's counters at one moment."""

    calls: dict[str, int]
    usec: dict[str, int]
    failed: dict[str, int]  # calls rejected (MOVED …) or failed in execution (NOSCRIPT …)
    net_in: int
    net_out: int
    repl_out: int
    cpu: float  # seconds, user + system, of the server process (all its threads)
    memory: int
    buffers: int  # of used_memory: the replication backlog and the clients' buffers

    @classmethod
    def take(cls, client: redis.Redis) -> Snapshot:
        info = client.info("stats", "cpu", "memory", "commandstats")
        stats = {key.removeprefix("cmdstat_"): value for key, value in info.items()
                 if key.startswith("cmdstat_")}
        return cls({name: int(s["calls"]) for name, s in stats.items()},
                   {name: int(s["usec"]) for name, s in stats.items()},
                   {name: int(s.get("failed_calls", 0)) + int(s.get("rejected_calls", 0))
                    for name, s in stats.items()},
                   int(info["total_net_input_bytes"]), int(info["total_net_output_bytes"]),
                   int(info.get("total_net_repl_output_bytes", 0)),
                   float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
                   int(info["used_memory"]),
                   sum(int(info.get(name, 0)) for name in (
                       "mem_replication_backlog", "mem_clients_slaves", "mem_clients_normal")))

    def minus(self, before: Snapshot) -> Snapshot:
        return Snapshot(
            {n: c - before.calls.get(n, 0) for n, c in self.calls.items()
             if c - before.calls.get(n, 0) and n not in OURS},
            {n: u - before.usec.get(n, 0) for n, u in self.usec.items()
             if self.calls[n] - before.calls.get(n, 0) and n not in OURS},
            {n: f - before.failed.get(n, 0) for n, f in self.failed.items()
             if f - before.failed.get(n, 0) and n not in OURS},
            self.net_in - before.net_in, self.net_out - before.net_out,
            self.repl_out - before.repl_out, self.cpu - before.cpu,
            self.memory - before.memory, self.buffers - before.buffers)


def snapshots(nodes: dict[int, redis.Redis]) -> dict[int, Snapshot]:
    return {port: Snapshot.take(client) for port, client in nodes.items()}


def visitor_keys(masters: dict[int, redis.Redis], site: str = SITE) -> dict[int, dict[str, Any]]:
    """Per master: the visitors' keys (``ondo:{SITE:VISITOR}:…``, docs/storage.md),
    their number and ``MEMORY USAGE`` (every value sampled) by suffix, the distinct
    visitors; and the bytes of the site's live counters (``ondo:{SITE:live}:…``, or
    ``ondo:{SITE:live:K}:…`` spread), which hold every visitor of the last minutes too."""
    out: dict[int, dict[str, Any]] = {}
    live = f"ondo:{{{site}:live".encode()
    for port, client in masters.items():
        found = list(client.scan_iter(match=f"ondo:{{{site}:*", count=1000))
        keys = [key for key in found if not key.startswith(live)]
        live_keys = [key for key in found if key.startswith(live)]
        pipe = client.pipeline(transaction=False)
        for key in live_keys:
            pipe.memory_usage(key, samples=0)
        live_bytes = sum(int(n or 0) for n in pipe.execute()) if live_keys else 0
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=0)
            if key.endswith(b":e"):
                pipe.hlen(key)  # the event ids remembered
        replies = iter(pipe.execute() if keys else [])
        by_suffix: dict[str, dict[str, int]] = {}
        visitors = set()
        for key in keys:
            tag, _, suffix = key.decode().rpartition(":")
            visitors.add(tag)
            entry = by_suffix.setdefault(suffix, {"keys": 0, "bytes": 0, "fields": 0})
            entry["keys"] += 1
            entry["bytes"] += int(next(replies) or 0)
            if suffix == "e":
                entry["fields"] += int(next(replies))
        out[port] = {"visitors": len(visitors), "by_suffix": by_suffix,
                     "live_keys": len(live_keys), "live_bytes": live_bytes}
    return out


# -- the engine and its load


def engine_counts(url: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """Events handled since the engine started (in all, by kind) and the error
    frames it sent, by code (its /metrics)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    kinds = {k: int(n) for k, n in re.findall(r'^ondo_events_total\{kind="([^"]*)"\} (\d+)$',
                                              text, re.MULTILINE)}
    errors = {k: int(n) for k, n in re.findall(
        r'^ondo_error_frames_total\{code="([^"]*)"\} (\d+)$', text, re.MULTILINE)}
    return sum(kinds.values()), kinds, errors


def start_load(port: int, visitors: int, rate: float, processes: int,
               duration: float) -> list[multiprocessing.process.BaseProcess]:
    """bench/loadgen.py's visitors in ``processes`` processes on CPU 1, split as
    bench/load.py's ``drive`` splits them; they run until ``duration`` or until
    ``stop_load`` (the measured window here is the engine's count, not theirs)."""
    ctx = multiprocessing.get_context("fork")
    cpu = 1 if (os.cpu_count() or 1) > 1 else None
    procs: list[multiprocessing.process.BaseProcess] = []
    for i in range(processes):
        plan = Plan("127.0.0.1", port, SITE, ORIGIN, visitors // processes + (i < visitors %
                                                                             processes),
                    duration, rate / processes, 100 + i, warmup=0.0)
        proc = ctx.Process(target=run_process, args=(plan, cpu), daemon=True)
        proc.start()
        procs.append(proc)
    return procs


def stop_load(procs: list[multiprocessing.process.BaseProcess]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()


# -- the measurement


def measure(kind: str = "single", *, events: int = 20_000, visitors: int = 1000,
            rules: int = 1000, rate: float = 0.0, warmup: float = WARMUP,
            processes: int = 2, max_seconds: float = 120.0,
            live_shards: int = 1) -> dict[str, Any]:
    """One measured window of ``events`` engine events (or ``max_seconds``, whichever
    comes first) after ``warmup`` seconds of load; the report as a dict."""
    with tempfile.TemporaryDirectory() as tmp, redis_target(kind, Path(tmp)) as target:
        data = Path(tmp)
        rules_path = data / "rules.yaml"
        rules_path.write_text(site_file(rules, SITE), encoding="utf-8")
        (data / "sites.toml").write_text(sites_toml(rules_path, ORIGIN, SITE, live_shards),
                                         encoding="utf-8")
        port = free_port()
        command = [sys.executable, "-m", "engine", "serve", "--config", str(data / "sites.toml"),
                   "--redis", target.url, "--port", str(port)]
        with server(command, port) as url:
            idle = snapshots(target.masters)  # the engine started, no visitor yet
            procs = start_load(port, visitors, rate, processes,
                               duration=max_seconds + warmup + 60)
            try:
                deadline = time.monotonic() + 60
                while engine_counts(url)[0] == 0:  # the visitors connect, then send
                    if time.monotonic() > deadline or not any(p.is_alive() for p in procs):
                        raise RuntimeError("the load generators sent no event")
                    time.sleep(0.1)
                time.sleep(warmup)
                first, _, errors_first = engine_counts(url)
                started = time.perf_counter()
                before = snapshots(target.masters)
                replicas_before = snapshots(target.replicas)
                deadline = time.monotonic() + max_seconds
                while engine_counts(url)[0] - first < events and time.monotonic() < deadline:
                    if not all(p.is_alive() for p in procs):
                        raise RuntimeError("a load generator ended before the window did")
                    time.sleep(0.1)
                last, kinds, errors_last = engine_counts(url)
                after = snapshots(target.masters)
                replicas_after = snapshots(target.replicas)
                seconds = time.perf_counter() - started
            finally:
                stop_load(procs)
            time.sleep(1.0)  # the engine hears the visitors leave; its last writes land
            total_events = engine_counts(url)[0]
            settled = snapshots(target.masters)
            keys = visitor_keys(target.masters)
    window = {port: after[port].minus(before[port]) for port in after}
    return report(kind, window, {p: replicas_after[p].minus(replicas_before[p])
                                 for p in replicas_after},
                  {p: settled[p].minus(idle[p]) for p in settled}, keys,
                  n=last - first, seconds=seconds, kinds=kinds,
                  errors={c: n - errors_first.get(c, 0) for c, n in errors_last.items()
                          if n - errors_first.get(c, 0)},
                  visitors=visitors, total_events=total_events,
                  params={"events": events, "visitors": visitors, "rules": rules,
                          "rate": rate, "warmup": warmup, "processes": processes,
                          "live_shards": live_shards})


def report(kind: str, window: dict[int, Snapshot], replicas: dict[int, Snapshot],
           memory: dict[int, Snapshot], keys: dict[int, dict[str, Any]], *, n: int,
           seconds: float, kinds: dict[str, int], errors: dict[str, int], visitors: int,
           total_events: int, params: dict[str, Any]) -> dict[str, Any]:
    """The figures per event (and per visitor) from the masters' counter deltas."""
    calls: dict[str, int] = {}
    usec: dict[str, int] = {}
    failed: dict[str, int] = {}
    for snap in window.values():
        for name, c in snap.calls.items():
            calls[name] = calls.get(name, 0) + c
            usec[name] = usec.get(name, 0) + snap.usec.get(name, 0)
        for name, f in snap.failed.items():
            failed[name] = failed.get(name, 0) + f
    # a rejected call (MOVED, OOM …) is in rejected_calls only, not in calls
    calls.update({name: calls.get(name, 0) for name in failed})
    commands = [{"command": name, "per_event": c / n,
                 "usec_per_call": usec.get(name, 0) / c if c else 0.0,
                 "failed_per_event": failed.get(name, 0) / n,
                 "in_scripts": name in SCRIPT_COMMANDS}
                for name, c in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))]
    sent = sum(c for name, c in calls.items() if name not in SCRIPT_COMMANDS)
    sent_usec = sum(u for name, u in usec.items() if name not in SCRIPT_COMMANDS)
    cpu = sum(s.cpu for s in window.values())
    seen = sum(k["visitors"] for k in keys.values())
    suffixes: dict[str, dict[str, int]] = {}
    for k in keys.values():
        for suffix, entry in k["by_suffix"].items():
            into = suffixes.setdefault(suffix, {"keys": 0, "bytes": 0, "fields": 0})
            for name in into:
                into[name] += entry[name]
    evalsha = sum(s.calls.get("evalsha", 0) for s in window.values()) or 1
    profiles = sum(k["by_suffix"].get("p", {}).get("keys", 0) for k in keys.values()) or 1
    return {
        "command": f"python -m bench.capacity --redis {kind}",  # main() gives the real one
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "redis": kind,
        "params": params,
        "events": n,
        "seconds": seconds,
        "events_per_second": n / seconds,
        "event_kinds": kinds,
        "errors": errors,
        "per_event": {
            "commands": commands,
            "commands_sent": sent / n,
            "commands_all": sum(calls.values()) / n,
            "bytes_in": sum(s.net_in for s in window.values()) / n,
            # total_net_output_bytes counts the replication stream too
            "bytes_out": sum(s.net_out - s.repl_out for s in window.values()) / n,
            "replication_bytes_out": sum(s.repl_out for s in window.values()) / n,
            "cpu_us": cpu / n * 1e6,
            "commandstats_us": sent_usec / n,
            "replicas_cpu_us": sum(s.cpu for s in replicas.values()) / n * 1e6,
        },
        "memory": {
            "visitors": visitors,
            "visitors_with_keys": seen,
            "events_per_visitor": total_events / max(seen, 1),
            "used_memory_delta": sum(s.memory for s in memory.values()),
            "used_memory_per_visitor": sum(s.memory for s in memory.values()) / visitors,
            "used_memory_less_buffers_per_visitor": sum(
                s.memory - s.buffers for s in memory.values()) / visitors,
            "visitor_keys_per_visitor": sum(e["bytes"] for e in suffixes.values()) /
            max(seen, 1),
            "by_suffix": {suffix: {"keys": e["keys"], "bytes_per_visitor": e["bytes"] /
                                   max(seen, 1)} for suffix, e in sorted(suffixes.items())},
            "live_counters_per_visitor": sum(k["live_bytes"] for k in keys.values()) /
            max(seen, 1),
            "event_ids_per_visitor": suffixes.get("e", {}).get("fields", 0) / max(seen, 1),
            "bytes_per_event_id": suffixes.get("e", {}).get("bytes", 0) /
            max(suffixes.get("e", {}).get("fields", 0), 1),
        },
        "masters": [{
            "port": port,
            "evalsha": snap.calls.get("evalsha", 0),
            "evalsha_share": snap.calls.get("evalsha", 0) / evalsha,
            "profiles": keys[port]["by_suffix"].get("p", {}).get("keys", 0),
            "profiles_share": keys[port]["by_suffix"].get("p", {}).get("keys", 0) / profiles,
            "cpu_us": snap.cpu / n * 1e6,
            "bytes_in": snap.net_in / n,
            "bytes_out": (snap.net_out - snap.repl_out) / n,
        } for port, snap in sorted(window.items())],
    }


def render(r: dict[str, Any]) -> str:
    p, e, m = r["params"], r["per_event"], r["memory"]
    nodes = "one redis-server" if r["redis"] == "single" else \
        f"a local Redis Cluster of {len(r['masters'])} masters and 3 replicas"
    mode = f"open loop at {p['rate']:,.0f} events/s" if p["rate"] else "closed loop"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "none"
    failed = ", ".join(f"{c['command'].upper()} {c['failed_per_event'] * r['events']:,.0f}"
                       for c in e["commands"] if c["failed_per_event"]) or "none"
    shards = p.get("live_shards", 1)
    spread = f" (the live counters spread over {shards} slots)" if shards > 1 else ""
    lines = [
        f"### Redis capacity ({r['redis']}) — {r['date']}", "",
        f"- command: `{r['command']}`",
        f"- machine: {r['machine']}; the engine (one worker) pinned to CPU 0; Redis and "
        f"{p['processes']} load-generator processes on CPU 1",
        f"- {nodes}; the rule library plus {p['rules']:,} generated rules{spread}; "
        f"{p['visitors']:,} visitors, {mode}; {r['events']:,} events measured in "
        f"{r['seconds']:.1f} s ({r['events_per_second']:,.0f} events/s) after "
        f"{p['warmup']:g} s of warm-up",
        f"- in the window: error frames to visitors {errors}; Redis calls failed or "
        f"rejected {failed}",
        "- events by kind (since the engine started): " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(r["event_kinds"].items(), key=lambda kv: -kv[1])),
        "",
        "| per event (summed over the masters) | figure |", "|---|---:|",
        f"| commands sent by clients | {e['commands_sent']:.3f} |",
        f"| commands in all, with those run inside scripts | {e['commands_all']:.3f} |",
        f"| bytes into Redis | {e['bytes_in']:,.0f} |",
        f"| bytes out of Redis to clients | {e['bytes_out']:,.0f} |",
    ]
    if r["redis"] == "cluster":
        lines += [f"| bytes out to the replicas | {e['replication_bytes_out']:,.0f} |"]
    lines += [
        f"| Redis CPU µs (used_cpu_user + used_cpu_sys) | {e['cpu_us']:.1f} |",
        f"| commandstats µs of the commands clients sent (wall time) | "
        f"{e['commandstats_us']:.1f} |",
    ]
    if r["redis"] == "cluster":
        lines += [f"| the replicas' CPU µs | {e['replicas_cpu_us']:.1f} |"]
    lines += ["", "| command | per event | µs per call | failed or rejected per event | "
              "run inside scripts |", "|---|---:|---:|---:|---|"]
    lines += [f"| {c['command'].upper()} | {c['per_event']:.{3 if c['per_event'] >= 0.01 else 5}f}"
              f" | {c['usec_per_call']:.2f} | "
              f"{c['failed_per_event']:.3f} | {'yes' if c['in_scripts'] else ''} |"
              for c in e["commands"]]
    lines += [
        "", "| memory after the run | bytes |", "|---|---:|",
        f"| used_memory delta / {m['visitors']:,} visitors | "
        f"{m['used_memory_per_visitor']:,.0f} |",
        f"| … less the replication backlog and client buffers | "
        f"{m['used_memory_less_buffers_per_visitor']:,.0f} |",
        f"| the visitors' own keys (MEMORY USAGE) per visitor | "
        f"{m['visitor_keys_per_visitor']:,.0f} |",
    ]
    names = {"p": "profile (p)", "e": "event ids, dedupe (e)", "d": "day buckets (d)",
             "c": "caps (c)"}
    lines += [f"| … {names.get(s, s)} | {v['bytes_per_visitor']:,.0f} |"
              for s, v in m["by_suffix"].items()]
    lines += [f"| the site's live counters (`{{SITE:live}}`, who is on which page) per "
              f"visitor | {m['live_counters_per_visitor']:,.0f} |"]
    lines += ["", f"{m['visitors_with_keys']:,} visitors have keys, after "
              f"{m['events_per_visitor']:.1f} events each on average (warm-up included); "
              f"the event-id hash (the dedupe window, a day) holds "
              f"{m['event_ids_per_visitor']:.1f} ids per visitor, "
              f"{m['bytes_per_event_id']:.0f} bytes each: a visitor's memory grows with "
              "the day's events."]
    if r["redis"] == "cluster":
        lines += ["", "| master | EVALSHA calls | share | visitors' profiles | share | "
                  "CPU µs/event | bytes in/event | bytes out/event |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| :{s['port']} | {s['evalsha']:,} | {s['evalsha_share']:.1%} | "
                  f"{s['profiles']:,} | {s['profiles_share']:.1%} | {s['cpu_us']:.1f} | "
                  f"{s['bytes_in']:,.0f} | {s['bytes_out']:,.0f} |" for s in r["masters"]]
        lines += ["", "A site's live counters share one slot (`{SITE:live}`): their "
                  "EVALSHAs all go to one master, the profiles' spread by visitor."
                  if shards == 1 else f"The site's live counters are spread over {shards} "
                  "slots: each event writes one, and reads all when its rules need figures."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", choices=["single", "cluster"], default="single")
    parser.add_argument("--events", type=int, default=20_000, help="events measured")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=1000, help="generated rules")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop at this many events/s in total (0: closed loop)")
    parser.add_argument("--warmup", type=float, default=WARMUP,
                        help="seconds of load before the measured window")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="end the window after this long even short of --events")
    parser.add_argument("--live-shards", type=int, default=1,
                        help="slots the site's live counters are spread over (site config "
                             "live_shards)")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    args = parser.parse_args(argv)
    raise_fd_limit()
    result = measure(args.redis, events=args.events, visitors=args.visitors, rules=args.rules,
                     rate=args.rate, warmup=args.warmup, processes=args.processes,
                     max_seconds=args.max_seconds, live_shards=args.live_shards)
    result["command"] = " ".join(["python -m bench.capacity", *(argv if argv is not None
                                                                else sys.argv[1:])])
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
