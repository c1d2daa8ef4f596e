"""Idle capacity: ``python -m bench.idle [--connections 10000] [--record]``.

Holds N idle websocket connections (each said hello) on one engine process
and, in the same run, on a bare uvicorn websocket echo (reference A), and
reports the server's resident memory per idle connection for both.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import ORIGIN, raise_fd_limit, server
from bench.loadgen import Tally, connect, text_frame
from bench.matcher import RESULTS, machine
from bench.workload import rule_file, sites_toml
from engine.runtime.embedded import EmbeddedRedis, free_port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _hold(port: int, count: int, start: int, ready: Any, release: Any) -> None:
    raise_fd_limit()

    async def run() -> None:
        tally = Tally()
        clients = []
        for n in range(count):
            client = await connect("127.0.0.1", port,
                                   f"/v1/ws?site=bench&visitor=idle-{start + n:08d}", ORIGIN,
                                   tally)
            assert client.transport is not None
            client.transport.write(text_frame(
                b'{"t":"hello","page":{"url":"https://shop.example.com/"}}'))
            clients.append(client)
        ready.set()
        while not release.is_set():
            await asyncio.sleep(0.2)
        for client in clients:
            if client.transport:
                client.transport.close()

    asyncio.run(run())


def measure(port: int, pid: int, connections: int, processes: int = 2) -> float:
    ctx = multiprocessing.get_context("fork")
    time.sleep(1.0)
    before = rss_kib(pid)
    readies, release, procs = [], ctx.Event(), []
    share = connections // processes
    for i in range(processes):
        ready = ctx.Event()
        proc = ctx.Process(target=_hold, args=(port, share, i * share, ready, release))
        proc.start()
        readies.append(ready)
        procs.append(proc)
    for ready in readies:
        if not ready.wait(timeout=300):
            raise RuntimeError("connections were not all opened in time")
    time.sleep(2.0)  # let the server settle (welcome frames, buffers)
    after = rss_kib(pid)
    release.set()
    for proc in procs:
        proc.join(timeout=30)
    return (after - before) * 1024 / connections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    fds = raise_fd_limit()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        redis_server = EmbeddedRedis(data / "redis", persist=False).start()
        rules = data / "rules.yaml"
        rules.write_text(rule_file(1000), encoding="utf-8")
        (data / "sites.toml").write_text(sites_toml(rules, ORIGIN), encoding="utf-8")
        python = sys.executable
        try:
            for name, command in (
                    ("bare uvicorn websocket (A)", [python, "-m", "bench.reference", "--kind",
                                                    "echo"]),
                    ("Ondo engine", [python, "-m", "engine", "serve", "--config",
                                     str(data / "sites.toml"), "--redis", redis_server.url])):
                port = free_port()
                with server([*command, "--port", str(port)], port):
                    results[name] = measure(port, listener_pid(port), args.connections)
        finally:
            redis_server.stop()
    bare = results["bare uvicorn websocket (A)"]
    lines = [f"### Idle connections — {datetime.date.today().isoformat()}", "",
             f"- command: `python -m bench.idle --connections {args.connections}`",
             f"- machine: {machine()}; fd limit {fds}", "",
             "| server | bytes per idle connection (RSS) | × bare |", "|---|---:|---:|"]
    for name, per in results.items():
        lines.append(f"| {name} | {per:,.0f} | {per / bare:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + table)
    return 0


def listener_pid(port: int) -> int:
    """The pid of the process listening on a loopback port (from /proc)."""
    wanted = f":{port:04X}"
    inode = next((fields[9] for fields in (line.split() for line in
                  Path("/proc/net/tcp").read_text().splitlines()[1:])
                  if fields[1].endswith(wanted) and fields[3] == "0A"), None)
    if inode is None:
        raise RuntimeError(f"nothing listens on port {port}")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process owns port {port}")


if __name__ == "__main__":
    sys.exit(main())
