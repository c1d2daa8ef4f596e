"""Shared fixtures: a real redis-server process on a free port (flushed for
every test) and a real engine served by uvicorn on a free port, with an
injected clock the test moves by hand."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import uvicorn

from engine.flow.signing import sign
from engine.http.app import create_app
from engine.runtime.clock import ManualClock
from engine.runtime.config import Config, SiteConfig
from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.runtime.local_cluster import LocalCluster
from engine.runtime.serving import uvicorn_options
from engine.store.redis import RedisStore

ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = ROOT / "rules" / "library" / "seed-recipes.yaml"
ORIGIN = "https://shop.example.com"
SECRET = "test-site-secret-0123456789"
START = 1_795_000_000.0  # 2026-11-18 20:06 in Seoul, a Wednesday


T = TypeVar("T")


def on_store(redis_url: str, call: Callable[[RedisStore], Awaitable[T]]) -> T:
    """One call on a store of the test's Redis, from a test's plain code."""
    async def run() -> T:
        store = RedisStore(redis_url)
        try:
            return await call(store)
        finally:
            await store.close()

    return asyncio.run(run())


def signed(body: bytes, secret: str = SECRET, timestamp: float | None = None) -> dict[str, str]:
    """The headers a shop's server signs a server-events request with."""
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    return {"X-Ondo-Timestamp": stamp, "X-Ondo-Signature": sign(secret, stamp, body)}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real Redis Cluster: 3 masters and 3 replicas on free ports."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: LocalCluster) -> str:
    """The cluster's ``redis+cluster://`` URL, every master flushed."""
    redis_cluster.flush()
    return redis_cluster.url


def site_config(rules: Path | None = SEED_RULES, **overrides: object) -> SiteConfig:
    values: dict[str, object] = {
        "id": "demo-shop", "origins": (ORIGIN, "http://localhost:8000"), "secret": SECRET,
        "login_url": "/member/login.html?returnUrl={return}",
        "rules": str(rules) if rules else None}
    values.update(overrides)
    return SiteConfig(**values)  # type: ignore[arg-type]


@dataclass
class Engine:
    url: str
    ws_url: str
    clock: ManualClock
    app: object


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot take signals
        pass


@contextlib.contextmanager
def run_engine(config: Config, redis_url: str, port: int | None = None,
               clock: ManualClock | None = None) -> Iterator[Engine]:
    clock = clock or ManualClock(START)
    app = create_app(config, redis_url, clock=clock)
    port = port or free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                    **uvicorn_options(config)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("engine did not start")
        time.sleep(0.02)
    try:
        yield Engine(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", clock, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def engine(redis_url: str) -> Iterator[Engine]:
    config = Config(sites={"demo-shop": site_config()})
    with run_engine(config, redis_url) as running:
        yield running


def redis_servers() -> set[int]:
    """Pids of the redis-server processes on this machine."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                name = (entry / "cmdline").read_bytes().split(b"\0")[0].split(b" ")[0]
                if name.endswith(b"redis-server"):
                    pids.add(int(entry.name))
    return pids


_BEFORE: set[int] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _BEFORE.update(redis_servers())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite leaves no redis-server behind: every one it started (its own,
    and those of the engines it ran and killed) must be gone at the end."""
    deadline = time.monotonic() + 10
    while (left := redis_servers() - _BEFORE) and time.monotonic() < deadline:
        time.sleep(0.1)  # an engine's server may still be writing its AOF
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"FAILED: the test suite left redis-server processes behind: "
                                f"{sorted(left)}", red=True)
