"""A scenario of bench/faults.py (``python -m bench.faults``): heavy admin work
beside live traffic. Takes a running engine, the plan and the checks, and
returns its part of the Markdown report.

The demo site's admin checks a generated file of 20,000 rules (bench/workload.py,
3.6 MiB: seconds of compiling) and, in a full run, uploads it, while a visitor
of the site sends 5 page views/s on its own connection. The rule file is
compiled in a job's worker process (engine/runtime/jobs.py), so the visitor must
get every page view acknowledged within a second, and the engine's own watch of
its event loop (``ondo_pause_seconds{cause="loop"}``) must never see it a second
late. Before the job workers, one check held the loop for its whole length
(10.5 s for a 7.9 MiB file of 20,000 rules).
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.admin_load import latest, loop_lag
from bench.fault_clients import QUICK, SITE, Checks, Engine, Plan, Timeline, Widget, drain, http
from bench.fault_clients import percentile as pct
from bench.workload import rule_file

RULES = 20_000
TOKEN = "demo-admin-token"  # engine/sites/demo.toml
WORST = 1.0  # seconds a neighbour's page view may wait for its ack


def _call(engine: Engine, method: str, path: str, body: bytes) -> tuple[int, dict[str, object],
                                                                         float]:
    started = time.monotonic()
    status, answer = http(method, f"{engine.url}/v1/sites/{SITE}/rules{path}", body,
                          {"Authorization": f"Bearer {TOKEN}"}, timeout=600)
    try:
        data = json.loads(answer) if answer else {}
    except ValueError:
        data = {"error": answer[:80].decode(errors="replace")}
    return status, data if isinstance(data, dict) else {}, time.monotonic() - started


async def heavy_admin(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    body = rule_file(RULES).replace("site: bench", f"site: {SITE}", 1).encode()
    neighbour = Widget(engine, "heavy-admin-neighbour", 5.0, Timeline())
    stop = asyncio.Event()
    task = asyncio.create_task(neighbour.run(stop))
    await asyncio.sleep(1.0)
    before = await asyncio.to_thread(loop_lag, engine)
    calls = [("check", "POST", "/validate")] + ([] if plan == QUICK else
                                                 [("upload", "PUT", "")])
    answers = []
    for name, method, path in calls:
        status, data, seconds = await asyncio.to_thread(_call, engine, method, path, body)
        answers.append((name, status, data, seconds))
    after = await asyncio.to_thread(loop_lag, engine)
    await asyncio.sleep(1.0)
    stop.set()
    await drain([neighbour], [task], 30.0)

    for name, status, data, _ in answers:
        expected = data.get("ok") is True if name == "check" else data.get("rules") == RULES
        checks.expect(status == 200 and expected, f"heavy admin: the {name} of {RULES:,} "
                      f"rules answered {status} {str(data.get('error', ''))[:80]}")
    waits = [w for _, w in neighbour.latency]
    worst = max(waits, default=float("inf"))
    checks.expect(neighbour.generated == len(neighbour.acked) and not neighbour.errors,
                  f"heavy admin: the neighbour got {len(neighbour.acked)} acks for "
                  f"{neighbour.generated} events, errors {dict(neighbour.errors)}")
    checks.expect(worst < WORST, f"heavy admin: a neighbour's page view waited {worst:.2f} s "
                  f"for its ack (the limit is {WORST:g} s)")
    lag = latest(before, after)
    checks.expect(lag != "> 1 s", "heavy admin: the engine's event loop was over a second late")
    return ["| request | answer | seconds |", "|---|---|---:|",
            *(f"| {name} of a {len(body) / (1 << 20):.1f} MiB file of {RULES:,} rules | "
              f"{status}{' ok' if status == 200 else ''} | {seconds:.1f} |"
              for name, status, _, seconds in answers),
            "", f"- the neighbour (5 page views/s on its own connection meanwhile): "
            f"{len(neighbour.acked)}/{neighbour.generated} acked, errors "
            f"{dict(neighbour.errors) or 'none'}, ack latency p50 {pct(waits, 50) * 1e3:.1f} "
            f"ms, p99 {pct(waits, 99) * 1e3:.1f} ms, max {worst * 1e3:.1f} ms",
            f"- the engine's event loop meanwhile, at its latest (its own watch, "
            f"`ondo_pause_seconds{{cause=\"loop\"}}`): {lag}"]
