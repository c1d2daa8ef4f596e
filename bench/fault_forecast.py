"""A scenario for bench/faults.py: forecasts are bounded and cancellable
(docs/forecast.md), on the demo engine and on engines of its own whose config
lowers one budget (``[limits] forecast_seconds`` or ``forecast_memory``).

Each engine first records traffic (visitors' page views over websockets),
copied up to ``ENTRIES`` entries (each copy another visitor; bench/forecast.py).

1. Cancel: a draft of ``cancel_rules`` rules that all match is forecast, asked
   as JSON and as the progress stream; once its worker runs, the client drops
   the connection. Measured: ms until the worker (``ondo-forecast``, a child of
   the engine's forkserver) is gone, and until the site's slot is free (a
   probe forecast of a window without traffic answers 422, not 429). Both
   must be under a second.
2. Time budget: a draft as big as the issue's, ``big_rules`` generated rules
   (bench/workload.py), on an engine with ``forecast_seconds`` lowered: the
   answer must be 422 naming ``forecast_seconds``; the worker's life and its
   peak RSS (VmHWM, read every 20 ms), the slot free after.
3. Memory budget: the same draft on an engine with ``forecast_memory``
   lowered: 413 naming ``forecast_memory``, the worker's peak RSS against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.fault_clients import (
    HELLO,
    MIB,
    QUICK,
    ROOT,
    SITE,
    Checks,
    Engine,
    Plan,
    http,
    log,
    open_socket,
    pageview,
)
from bench.forecast import copies
from bench.workload import rule_file
from engine.forecast.recording import LAYOUT, decode, encode
from engine.forecast.worker import NAME
from engine.store.redis import RedisStore

TOKEN = "demo-admin-token"  # engine/sites/demo.toml
DEMO_CONFIG = ROOT / "engine" / "sites" / "demo.toml"
SEED = (ROOT / "rules" / "library" / "seed-recipes.yaml").read_text(encoding="utf-8")
VISITORS, PAGES = 50, 20  # recorded through websockets, then copied
FORECAST = f"/v1/sites/{SITE}/rules/forecast"


@dataclass(frozen=True)
class Sizes:
    entries: int  # the recording, copied up to this many entries
    cancel_rules: int  # the cancelled draft's rules (each matching every page view)
    big_rules: int  # the draft (generated rules, bench/workload.py)
    seconds: float  # the lowered forecast_seconds
    memory_mib: int  # the lowered forecast_memory


FULL = Sizes(entries=100_000, cancel_rules=1_000, big_rules=20_000, seconds=15.0,
             memory_mib=128)
SHORT = Sizes(entries=20_000, cancel_rules=1_000, big_rules=2_000, seconds=3.0, memory_mib=64)


def matching_rules(n: int) -> str:
    lines = [f"site: {SITE}", "rules:"]
    for i in range(n):
        lines += [f"  - id: heavy-{i}", "    if: visit_count >= 1",
                  f"    do: {{ widget: push_note, title: 알림 {i}, body: 오늘의 소식 }}",
                  "    frequency: always"]
    return "\n".join(lines) + "\n"


# -- the engine's side: traffic, its recording, its workers


async def record(engine: Engine, entries: int) -> int:
    """Page views of VISITORS visitors, then the recording copied up to ``entries``."""
    async def visit(n: int) -> None:
        ws = await open_socket(engine, f"forecast-{n:04d}")
        await ws.send(HELLO)
        await ws.recv()
        for page in range(PAGES):
            await ws.send(pageview(f"fc-{n}-{page}", page))
            while json.loads(await ws.recv()).get("t") not in ("ack", "error"):
                pass
        await ws.close()
    await asyncio.gather(*(visit(n) for n in range(VISITORS)))
    await asyncio.sleep(1.0)  # the recorder's flush
    store = RedisStore(engine.redis_url)
    try:
        recordings = store.recordings
        layouts = await recordings.layouts(SITE)
        recorded, after = [], ""
        while page := await recordings.page(SITE, 0, 4e9, after, 5_000):
            recorded += [decode(blob, layouts) for _, blob in page]
            after = page[-1][0]
        extra = [(e.now, encode(e)) for e in copies(recorded, entries)]
        for start in range(0, len(extra), 10_000):
            await recordings.append(SITE, extra[start:start + 10_000],
                                    (LAYOUT.id, LAYOUT.as_json()), 0.0, 100_000_000)
        return len(recorded) + len(extra)
    finally:
        await store.close()


def workers(engine: Engine) -> list[int]:
    """The engine's forecast workers: named ``ondo-forecast``, children of its forkserver."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == NAME:
                server = _parent(int(entry.name))
                if server is not None and _parent(server) == engine.pid:
                    found.append(int(entry.name))
    return found


def _parent(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def peak_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def ask(engine: Engine, draft: str, timeout: float, **params: str) -> tuple[int, dict[str, object]]:
    """A forecast as the CLI asks it: (status, the answer or the stream's last line)."""
    status, body = http("POST", f"{engine.url}{FORECAST}?{urllib.parse.urlencode(params)}",
                        draft.encode(), {"Authorization": f"Bearer {TOKEN}"}, timeout=timeout)
    lines = body.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {"error": lines[-1][:200]}
    return int(answer.get("status", status)) if params.get("progress") else status, answer


def slot_free(engine: Engine) -> bool:
    """A window without traffic answers 422 once the site's slot is free (429 while not)."""
    status, _ = ask(engine, SEED, 5.0, since="89d", until="88d")
    return status == 422


def start(engine: Engine, draft: str, progress: str) -> socket.socket:
    """A forecast asked over a connection of its own, left open."""
    body = draft.encode()
    sock = socket.create_connection(("127.0.0.1", engine.port), timeout=10)
    sock.sendall(f"POST {FORECAST}?progress={progress} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/yaml\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def until(condition: Callable[[], object], timeout: float) -> float | None:
    """Seconds until ``condition()`` holds, polled every 5 ms; None past ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.005)
    return None


def ms(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds * 1e3:,.0f}"


# -- 1. cancel


def cancel(engine: Engine, draft: str, progress: str, checks: Checks) -> str:
    caller = start(engine, draft, progress)
    running = until(lambda: workers(engine), 60.0)
    checks.expect(running is not None, f"forecast ({progress=}): no worker started")
    time.sleep(0.5)  # the worker is compiling or replaying: busy either way
    checks.expect(bool(workers(engine)), f"forecast ({progress=}): the worker ended by "
                  "itself before the caller went away (make the draft heavier)")
    caller.close()
    gone = until(lambda: not workers(engine), 5.0)
    free = until(lambda: slot_free(engine), 5.0)
    kind = "the progress stream" if progress == "1" else "JSON"
    checks.expect(gone is not None and gone < 1.0, f"forecast: a caller of {kind} went away; "
                  f"its worker was gone after {ms(gone)} ms")
    checks.expect(free is not None and free < 1.0, f"forecast: a caller of {kind} went away; "
                  f"the slot was free after {ms(free)} ms")
    return f"| {kind} | {ms(gone)} | {ms(free)} |"


# -- 2. and 3. the budgets, on engines of their own


def config(path: Path, **limits: float | int) -> Path:
    """The demo site's config (its rules path made absolute) with ``[limits]``."""
    site = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["sites"][0]
    site["rules"] = str((DEMO_CONFIG.parent / site["rules"]).resolve())
    path.write_text("\n".join(["[[sites]]", *(f"{k} = {json.dumps(v)}" for k, v in site.items()),
                               "", "[limits]", *(f"{k} = {v}" for k, v in limits.items()), ""]),
                    encoding="utf-8")
    return path


@contextlib.contextmanager
def engine_with(base: Path, name: str, checks: Checks, **limits: float | int
                ) -> Iterator[Engine]:
    (base / name).mkdir()
    engine = Engine(base / name / "data", config=config(base / name / "engine.toml", **limits))
    try:
        engine.start()
        yield engine
    finally:
        code, redis_gone = engine.stop()
        checks.expect(code == 0, f"forecast-{name}: the engine exited {code} after SIGTERM")
        checks.expect(redis_gone, f"forecast-{name}: its redis-server outlived the engine")
        tracebacks = engine.tracebacks()
        checks.expect(not tracebacks, f"forecast-{name}: traceback(s) in the engine's log: "
                      f"{', '.join(sorted(set(tracebacks)))[:300]}")


def over_budget(engine: Engine, draft: str, limit: str, status: int, checks: Checks
                ) -> tuple[str, float, float | None, float | None, float | None]:
    """Forecast ``draft`` while watching its worker: (the answer, seconds to it, the
    worker's life, its peak RSS in MiB, ms from the answer until the slot is free)."""
    peak: dict[int, int] = {}
    born: dict[int, float] = {}
    died: dict[int, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen = set(workers(engine))
            now = time.monotonic()
            for pid in seen:
                born.setdefault(pid, now)
                peak[pid] = max(peak.get(pid, 0), peak_kib(pid) or 0)
            for pid in set(born) - seen - set(died):
                died[pid] = now
            await asyncio.sleep(0.02)

    async def run() -> tuple[int, dict[str, object], float]:
        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        answered, answer = await asyncio.to_thread(ask, engine, draft, 600.0)
        took = time.monotonic() - started
        await asyncio.sleep(0.5)
        done.set()
        await watcher
        return answered, answer, took

    answered, answer, took = asyncio.run(run())
    checks.expect(answered == status and answer.get("limit") == limit,
                  f"forecast: over {limit}: answered {answered} {answer}")
    pid = next(iter(born), None)
    life = died[pid] - born[pid] if pid in died and pid in born else None
    checks.expect(pid is not None and pid in died, f"forecast: over {limit}: its worker was "
                  "never seen, or outlived the answer")
    checks.expect(not workers(engine), f"forecast: over {limit}: a worker was left")
    free = until(lambda: slot_free(engine), 5.0)
    checks.expect(free is not None, f"forecast: over {limit}: the slot was not freed")
    mib = peak[pid] / 1024 if pid is not None and pid in peak else None
    return str(answer.get("error", answer))[:140], took, life, mib, free


def forecast_bounds(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    sizes = SHORT if plan == QUICK else FULL
    log(f"forecast: recording {VISITORS} visitors, copied to {sizes.entries:,} entries")
    held = asyncio.run(record(engine, sizes.entries))
    rows = [cancel(engine, matching_rules(sizes.cancel_rules), progress, checks)
            for progress in ("0", "1")]
    big = rule_file(sizes.big_rules).replace("site: bench", f"site: {SITE}", 1)
    out = [f"- the demo engine; {held:,} recorded entries ({VISITORS} visitors × {PAGES} page "
           "views through websockets, copied); the site's slot is free when a probe "
           "forecast of a window without traffic answers 422 (not 429)", "",
           f"**Cancel**: a draft of {sizes.cancel_rules:,} rules that all match; once its "
           "worker runs (0.5 s after it started), the client drops the connection:", "",
           "| asked as | worker gone after, ms | slot free after, ms |", "|---|---:|---:|",
           *rows, "",
           f"**Budgets**: a draft of {sizes.big_rules:,} generated rules "
           f"({len(big.encode()) / MIB:.1f} MiB; bench/workload.py) over the same traffic, on "
           "an engine of its own whose config lowers one limit; the answer comes after the "
           "engine compiled the draft (`rule_file`) and the worker's life:", "",
           "| config | answer | answer after, s | worker's life, s | worker's peak RSS, MiB "
           "| slot free after the answer, ms |", "|---|---|---:|---:|---:|---:|"]
    base = engine.data_dir.parent
    for name, limits, limit, status in (
            ("seconds", {"forecast_seconds": sizes.seconds}, "forecast_seconds", 422),
            ("memory", {"forecast_memory": sizes.memory_mib * MIB}, "forecast_memory", 413)):
        with engine_with(base, name, checks, **limits) as own:
            asyncio.run(record(own, sizes.entries))
            shown = ", ".join(f"`{k} = {v:g}`" if isinstance(v, float) else
                              f"`{k} = {v}` ({v // MIB} MiB)" for k, v in limits.items())
            log(f"forecast: the {sizes.big_rules:,}-rule draft with {shown}")
            said, took, life, mib, free = over_budget(own, big, limit, status, checks)
            out.append(f"| {shown} | {status} `{said}` | {took:.1f} | "
                       f"{'?' if life is None else f'{life:.1f}'} | "
                       f"{'?' if mib is None else f'{mib:,.0f}'} | {ms(free)} |")
    return out
