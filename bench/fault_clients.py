"""The pieces bench/faults.py and bench/fault_inputs.py share: the plan (sizes of
a full and a ``--quick`` run), the checks (the promises broken so far), an engine
run as a user runs it (``python -m engine serve [--config FILE] --port PORT
--data-dir DIR``, its embedded Redis included), read from /proc and over HTTP,
and websocket visitors that behave as the widget does (widgets/src/socket.js):
an outbox of unacknowledged events, resent with the same ids after
``unavailable`` or ``rate_limited`` (500 ms plus a full-jitter backoff counted
by ``resends``, which every ack resets) and after every reconnect, which
follows the protocol's reconnect policy (engine/wire/protocol.py ``RECONNECT`` and
``BACKOFF``; the reconnect counter ``attempt`` is reset by ``welcome``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin, Subprotocol

from engine.runtime.embedded import PID_FILE, free_port
from engine.store.redis import decode_profile
from engine.wire.protocol import BACKOFF, RECONNECT, ErrorCode

ROOT = Path(__file__).resolve().parents[1]
SITE = "demo-shop"  # engine/sites/demo.toml
ORIGIN = "http://127.0.0.1:8000"  # an allowed origin of the demo site
KEEP = {ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED, ErrorCode.NOT_READY}  # as the widget
_RECONNECT = {int(code): again for code, again in RECONNECT.items()}  # 1006: reconnect
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of one request; (0, b"") when the server does not answer."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _HTTP.open(request, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float) -> float | None:
    """Seconds until the process is gone, or None if it is still there."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not running(pid):
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of the values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


MIB = 1 << 20


@dataclass(frozen=True)
class Plan:
    """How big each scenario is; ``QUICK`` is the ``--quick`` run."""

    visitors: int = 150  # scenarios 1 and 2
    rate: float = 3.0  # page views per visitor per second (the limit is 20)
    warmup: float = 5.0  # seconds before the first kill
    kills: int = 3
    interval: float = 10.0  # seconds between kills
    body: int = 48 * MIB
    body_runs: int = 3
    flood_rounds: int = 3
    flood_window: float = 10.0  # seconds, quiet then flood, each round
    churn: int = 3000  # connections per round
    churn_rounds: int = 6
    wave: int = 100


QUICK = Plan(visitors=50, warmup=3.0, kills=1, interval=5.0, body_runs=1, flood_rounds=1,
             flood_window=6.0, churn=500, churn_rounds=1)  # 6 s: past the connect burst


@dataclass
class Checks:
    """The promises found broken, each said once on stderr as it is found."""

    failed: list[str] = field(default_factory=list)

    def expect(self, ok: bool, broken: str) -> bool:
        if not ok:
            self.failed.append(broken)
            print(f"BROKEN: {broken}", file=sys.stderr)
        return ok


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Engine:
    """``python -m engine serve`` on a data directory, pinned to ``cpu``; the
    same port across restarts, so that clients reconnect to the same URL; the
    demo site's config (engine/sites/demo.toml) unless ``config`` is given."""

    def __init__(self, data_dir: Path, cpu: int | None = 0, config: Path | None = None) -> None:
        self.data_dir, self.config = data_dir, config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1/ws"
        self.cpu = cpu
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def start(self, timeout: float = 30.0) -> float:
        """Start it; the seconds until /healthz answers 200."""
        path = self.data_dir.parent / f"engine-{self.port}-{len(self.logs)}.log"
        self.logs.append(path)
        cpu = self.cpu
        started = time.monotonic()
        with path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir),
                 *(["--config", str(self.config)] if self.config else [])],
                stdout=out, stderr=subprocess.STDOUT,
                cwd=ROOT, preexec_fn=(lambda: os.sched_setaffinity(0, {cpu}))
                if cpu is not None else None)
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the engine exited {self.process.returncode}:\n"
                                   f"{path.read_text(errors='replace')[-2000:]}")
            if self.health()[0] == 200:
                return time.monotonic() - started
            time.sleep(0.01)
        raise RuntimeError(f"the engine did not answer in {timeout:g} s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def redis_pid(self) -> int:
        return int((self.data_dir / PID_FILE).read_text())

    @property
    def redis_url(self) -> str:
        found = re.findall(r"embedded redis-server on (redis://\S+)", self.output())
        if not found:
            raise RuntimeError("the engine did not say where its redis-server is")
        return str(found[-1])

    def output(self) -> str:
        return self.logs[-1].read_text(errors="replace") if self.logs else ""

    def tracebacks(self) -> list[str]:
        """The first line after each traceback in every log of this engine."""
        found = []
        for path in self.logs:
            lines = path.read_text(errors="replace").splitlines()
            found += [next((x for x in lines[i:] if not x.startswith((" ", "Traceback"))), "?")
                      for i, line in enumerate(lines) if line.startswith("Traceback")]
        return found

    def health(self) -> tuple[int, str]:
        """/healthz: (HTTP status, its "status" field)."""
        status, body = http("GET", self.url + "/healthz", timeout=1.0)
        try:
            return status, str(json.loads(body).get("status")) if body else ""
        except ValueError:
            return status, body[:40].decode(errors="replace")

    def metric(self, name: str) -> float | None:
        status, body = http("GET", self.url + "/metrics")
        found = re.search(rf"^{re.escape(name)} (\S+)$", body.decode(), re.MULTILINE)
        return float(found.group(1)) if status == 200 and found else None

    def status_kib(self, field_name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field_name} for {self.pid}")

    def reset_peak(self) -> None:
        """Reset VmHWM (the peak RSS) to the current RSS."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=15)

    def stop(self) -> tuple[int | None, bool]:
        """SIGTERM; (the engine's exit status, whether its redis-server is gone)."""
        if self.process is None:
            return None, True
        redis_pid = self.redis_pid if (self.data_dir / PID_FILE).exists() else None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        gone = redis_pid is None or wait_gone(redis_pid, 10.0) is not None
        return code, gone

    def stored_pageviews(self, visitors: list[str]) -> dict[str, int]:
        """Each visitor's stored ``pageviews_total``, read from the engine's Redis."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            blobs = client.mget([f"ondo:{{{SITE}:{v}}}:p" for v in visitors])
        finally:
            client.close()
        return {v: int(decode_profile(blob).get("pageviews_total", 0) or 0)
                for v, blob in zip(visitors, blobs, strict=True)}


async def open_socket(engine: Engine, visitor: str, timeout: float = 5.0) -> ClientConnection:
    return await connect(f"{engine.ws_url}?site={SITE}&visitor={visitor}",
                         origin=Origin(ORIGIN), subprotocols=[Subprotocol("ondo.v1")],
                         compression=None, proxy=None, open_timeout=timeout,
                         ping_interval=None, close_timeout=2, max_size=1 << 20,
                         user_agent_header="bench.faults")


HELLO = json.dumps({"t": "hello", "page": {"url": "http://127.0.0.1:8000/"}})


def pageview(event_id: str, n: int) -> str:
    return json.dumps({"t": "event", "id": event_id, "kind": "pageview",
                       "data": {"url": f"http://127.0.0.1:8000/p{n}"}})


def backoff(attempt: int) -> float:
    """The widget's delay: full jitter, random(0, min(cap, base * 2^attempt)), seconds."""
    ceiling: float = min(BACKOFF.cap_ms, BACKOFF.base_ms * 2 ** min(attempt, 30))
    return random.random() * ceiling / 1e3


@dataclass
class Timeline:
    """When acks and ``unavailable`` errors arrived, over all visitors (monotonic s)."""

    acks: list[float] = field(default_factory=list)
    unavailable: list[float] = field(default_factory=list)


class Widget:
    """One visitor, sending page views at ``rate`` per second as the widget would."""

    def __init__(self, engine: Engine, visitor: str, rate: float, timeline: Timeline) -> None:
        self.engine, self.visitor, self.rate, self.timeline = engine, visitor, rate, timeline
        self.outbox: dict[str, str] = {}  # event id -> frame, until acknowledged
        self.first_sent: dict[str, float] = {}
        self.acked: set[str] = set()
        self.latency: list[tuple[float, float]] = []  # (first sent, seconds to its ack)
        self.errors: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()  # 1006: dropped without a close frame
        self.refused: Counter[int] = Counter()  # handshakes refused: HTTP status
        self.connects = 0
        self.generated = 0
        self.stopped_by: int | None = None  # a close code after which the widget stops
        self.attempt = 0  # reconnects since the last welcome
        self.resends = 0  # resends since the last ack
        self.ws: ClientConnection | None = None
        self.retry: asyncio.Task[None] | None = None
        self.done = asyncio.Event()

    async def run(self, stop_sending: asyncio.Event) -> None:
        """Send until ``stop_sending``, then until every event is acknowledged."""
        producer = asyncio.create_task(self._produce(stop_sending))
        try:
            while not self.done.is_set():
                code = await self._session()
                if self.done.is_set():
                    break
                self.closes[code] += 1
                if _RECONNECT.get(code, True) is False:
                    self.stopped_by = code
                    return
                await asyncio.sleep(backoff(self.attempt))
                self.attempt += 1
        finally:
            producer.cancel()
            if self.retry is not None:
                self.retry.cancel()

    async def _session(self) -> int:
        """One connection: hello, the outbox, then frames until it closes; its close code."""
        try:
            ws = await open_socket(self.engine, self.visitor)
        except InvalidStatus as exc:  # the browser's onclose says 1006 too
            self.refused[exc.response.status_code] += 1
            return 1006
        except (OSError, InvalidHandshake, TimeoutError):
            return 1006
        self.connects += 1
        try:
            await ws.send(HELLO)
            self.ws = ws
            for frame in list(self.outbox.values()):
                await ws.send(frame)
            async for message in ws:
                self._receive(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            self.ws = None
            if self.done.is_set():
                await ws.close()
        return ws.close_code or 1006

    def _receive(self, frame: dict[str, object]) -> None:
        kind, event_id = frame.get("t"), frame.get("id")
        if kind == "welcome":
            self.attempt = 0
        elif kind == "ack" and isinstance(event_id, str):
            self.resends = 0  # storage answers again: the next outage starts from the base
            now = time.monotonic()
            self.timeline.acks.append(now)
            if self.outbox.pop(event_id, None) is not None:
                self.acked.add(event_id)
                self.latency.append((self.first_sent[event_id],
                                     now - self.first_sent[event_id]))
        elif kind == "error" and isinstance(event_id, str):
            code = str(frame.get("code"))
            self.errors[code] += 1
            if code == ErrorCode.UNAVAILABLE:
                self.timeline.unavailable.append(time.monotonic())
            if code in KEEP:
                self._resend_later()
            else:
                self.outbox.pop(event_id, None)  # a bad event: resending cannot help

    def _resend_later(self) -> None:
        if self.retry is None or self.retry.done():
            delay = 0.5 + backoff(self.resends)
            self.resends += 1
            self.retry = asyncio.create_task(self._resend(delay))

    async def _resend(self, delay: float) -> None:
        await asyncio.sleep(delay)
        ws = self.ws
        with contextlib.suppress(ConnectionClosed):
            for frame in list(self.outbox.values()):
                if ws is not None:
                    await ws.send(frame)

    async def _produce(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.random() / self.rate)
        while not stop.is_set():
            self.generated += 1
            event_id = f"{self.visitor}-{self.generated}"
            frame = pageview(event_id, self.generated)
            self.outbox[event_id] = frame
            self.first_sent[event_id] = time.monotonic()
            ws = self.ws
            if ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(frame)
            await asyncio.sleep(1 / self.rate)
        while self.outbox:
            await asyncio.sleep(0.05)
        self.done.set()
        ws = self.ws
        if ws is not None:
            await ws.close()


async def drain(widgets: list[Widget], tasks: list[asyncio.Task[None]],
                timeout: float) -> float:
    """Wait (after the producers stopped) until every outbox is empty; the seconds it took."""
    start = time.monotonic()
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return time.monotonic() - start

