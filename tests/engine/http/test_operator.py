"""What an operator sees and can count on: the engine's long-lived tasks come
back after any error (and /healthz and /metrics say so meanwhile), /metrics is
not for strangers, a frame that cannot be written closes its socket with 1011."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed

from engine.http.services import Services
from engine.runtime.config import Config
from engine.store.base import PUSH_CHANNEL
from tests.conftest import Engine, run_engine, site_config
from tests.engine.client import Visitor

METRICS_TOKEN = "metrics-token-0123"
RULE = "hello"
RULES = f"""site: demo-shop
rules:
  - id: {RULE}
    if: visit_count >= 1
    do: {{widget: push_note, title: 안녕하세요, body: 오늘의 추천}}
"""
STATS_KEY = "ondo:{demo-shop}:stats:20261118"  # the engine's clock starts on this day


def services(engine: Engine) -> Services:
    found = engine.app.state.services  # type: ignore[attr-defined]
    assert isinstance(found, Services)
    return found


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def health(engine: Engine) -> dict[str, Any]:
    reply = httpx.get(f"{engine.url}/healthz")
    assert reply.status_code == 200, reply.text  # Redis is up: the node serves
    body: dict[str, Any] = reply.json()
    return body


def once(error: Exception, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call``, but the first call raises ``error``."""
    calls = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return call(*args, **kwargs)
    return wrapper


def break_counters(engine: Engine, redis_url: str) -> None:
    store = services(engine).store
    store.count = once(RuntimeError("injected: count"), store.count)  # type: ignore[method-assign]
    Visitor(engine, "counted-0001").page("https://shop.example.com/")  # something to flush


def break_recorder(engine: Engine, redis_url: str) -> None:
    recordings = services(engine).store.recordings
    recordings.append = once(RuntimeError("injected: append"),  # type: ignore[method-assign]
                             recordings.append)
    Visitor(engine, "recorded-001").page("https://shop.example.com/")


def break_follower(engine: Engine, redis_url: str) -> None:
    """The pub/sub connection is killed, and reconnecting meets a bug once."""
    store = services(engine).store
    store.new_client = once(RuntimeError("injected: new_client"),  # type: ignore[attr-defined]
                            store.new_client)  # type: ignore[attr-defined]
    client = redis.Redis.from_url(redis_url)
    client.client_kill_filter(_type="pubsub")
    client.close()


def break_loop_watch(engine: Engine, redis_url: str) -> None:
    metrics = services(engine).metrics
    pause = metrics.pause

    def failing(cause: str, seconds: float) -> None:
        if cause == "loop":
            metrics.pause = pause  # type: ignore[method-assign]
            raise RuntimeError("injected: loop watch")
        pause(cause, seconds)
    metrics.pause = failing  # type: ignore[method-assign]


@pytest.fixture
def quick_engine(redis_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose one rule matches every page view, with its tasks'
    backoff and settling time cut short."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    with run_engine(Config(sites={"demo-shop": site_config(rules)}), redis_url) as engine:
        supervisor = services(engine).supervisor
        assert supervisor is not None
        supervisor.backoff, supervisor.settle = 0.2, 1.0
        yield engine


@pytest.mark.parametrize(("task", "inject"), [
    ("counters", break_counters), ("recorder", break_recorder),
    ("follower", break_follower), ("loop_watch", break_loop_watch)])
def test_a_task_killed_by_an_error_comes_back_and_says_so_meanwhile(
        quick_engine: Engine, redis_url: str, task: str,
        inject: Callable[[Engine, str], None], caplog: pytest.LogCaptureFixture) -> None:
    engine = quick_engine
    assert health(engine)["status"] == "ok"
    with caplog.at_level(logging.ERROR, logger="ondo.supervisor"):
        inject(engine, redis_url)
        eventually(lambda: health(engine)["tasks"][task]["restarts"] >= 1)
        seen = health(engine)
        if seen["tasks"][task]["state"] != "running":  # it may have settled already
            assert seen["status"] == "degraded"
            assert f"task {task} is failing" in seen["warnings"]
        metrics = httpx.get(f"{engine.url}/metrics").text
        assert f'ondo_task_restarts_total{{task="{task}"}} 1' in metrics
        eventually(lambda: health(engine)["status"] == "ok")
    assert health(engine)["tasks"][task] == {"state": "running", "restarts": 1}
    logged = [r for r in caplog.records if r.getMessage().startswith(f"task {task} failed")]
    assert len(logged) == 1 and logged[0].exc_info is not None


def test_counts_kept_through_a_failed_flush_are_written_after_it(quick_engine: Engine,
                                                                 redis_url: str) -> None:
    engine = quick_engine
    break_counters(engine, redis_url)
    for n in range(3):
        Visitor(engine, f"later-{n:05}").page("https://shop.example.com/")
    eventually(lambda: health(engine)["tasks"]["counters"]["restarts"] >= 1)
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hget(STATS_KEY, f"{RULE}|matched") == b"4")
    client.close()


def test_metrics_are_for_this_machine_unless_a_token_is_configured(redis_url: str) -> None:
    with run_engine(Config(sites={"demo-shop": site_config()}), redis_url) as engine:
        metrics = f"{engine.url}/metrics"
        assert httpx.get(metrics).status_code == 200  # loopback
        # A client the local proxy forwards (X-Forwarded-For is trusted from 127.0.0.1).
        reply = httpx.get(metrics, headers={"X-Forwarded-For": "203.0.113.9"})
        assert (reply.status_code, reply.json()["field"]) == (403, "address")
        assert "demo-shop" not in reply.text
    digest = hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()
    config = Config(sites={"demo-shop": site_config()}, metrics_token_sha256=digest)
    with run_engine(config, redis_url) as engine:
        metrics = f"{engine.url}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {METRICS_TOKEN}"}):
            reply = httpx.get(metrics, headers=headers)
            assert (reply.status_code, reply.json()["field"]) == (401, "authorization")
            assert reply.headers["www-authenticate"] == "Bearer"
        reply = httpx.get(metrics, headers={"Authorization": f"Bearer {METRICS_TOKEN}",
                                            "X-Forwarded-For": "203.0.113.9"})
        assert reply.status_code == 200 and "ondo_events_total" in reply.text


def test_a_frame_that_cannot_be_written_closes_its_socket_with_1011(
        engine: Engine, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A push from another node carrying a number no frame can hold (2^100):
    the visitor's socket is closed with 1011, which the widget reconnects
    after, rather than left open and mute."""
    visitor = Visitor(engine, "writer-0001")
    assert visitor.page("https://shop.example.com/")["t"] == "ack"
    frame = {"t": "action", "id": "n-1", "rule": "hello", "widget": "push_note",
             "content": {"title": "x", "price": 2**100}, "arming": {}}
    client = redis.Redis.from_url(redis_url)
    with caplog.at_level(logging.ERROR, logger="ondo.gateway"):
        client.publish(PUSH_CHANNEL, json.dumps({"site": "demo-shop", "profile": "writer-0001",
                                                 "frames": [frame]}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                visitor.recv(timeout=5)
    client.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "could not be encoded" in caplog.text
    eventually(lambda: 'ondo_closes_total{code="1011"} 1' in httpx.get(
        f"{engine.url}/metrics").text)


def test_healthz_warns_when_redis_is_near_its_maxmemory(engine: Engine, redis_url: str) -> None:
    """Still serving (200), but the operator is told before Redis starts
    evicting visitors or refusing writes."""
    client = redis.Redis.from_url(redis_url)
    configured = client.config_get("maxmemory")["maxmemory"]
    try:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", int(used / 0.95))
        body = health(engine)
        assert body["status"] == "warning"
        assert body["redis_memory"]["share"] >= 0.9
        assert body["redis_memory"]["policy"] == client.config_get("maxmemory-policy")[
            "maxmemory-policy"]
        assert any("of its maxmemory" in warning for warning in body["warnings"])
        client.config_set("maxmemory", used * 4)
        assert health(engine)["status"] == "ok"
        client.config_set("maxmemory", 0)
        assert "redis_memory" not in health(engine)  # no limit: nothing to come near
    finally:
        client.config_set("maxmemory", configured)
        client.close()
