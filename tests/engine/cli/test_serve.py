"""``ondo serve`` as a process: its embedded Redis lives and dies with it, one
engine per data directory, a dead Redis is restarted, and what a client can
make it log is one line."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from websockets.sync.client import connect

from engine.runtime.embedded import PID_FILE, free_port
from tests.engine.client import Visitor
from tests.engine.served import ORIGIN, Served, gone

SHOP = "http://127.0.0.1:8000"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_the_embedded_redis_stops_with_the_engine(tmp_path: Path, sig: int) -> None:
    served = Served(tmp_path).wait_ready()
    redis_pid = served.redis_pid
    status = served.stop(sig)
    assert status == (-signal.SIGKILL if sig == signal.SIGKILL else 0), served.output()
    assert gone(redis_pid), f"redis-server {redis_pid} outlived the engine ({sig!r})"


def test_a_second_engine_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    first = Served(tmp_path).wait_ready()
    try:
        second = Served(tmp_path, data_dir=first.data_dir)
        assert second.process.wait(timeout=20) == 2
        assert "in use by another engine" in second.output()
        assert httpx.get(first.url + "/healthz").status_code == 200
    finally:
        first.stop()


def test_a_redis_server_left_on_the_data_directory_is_taken_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    # A server an engine left behind (started without the parent-death signal).
    orphan = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
         "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL,
        start_new_session=True)
    (data / PID_FILE).write_text(str(orphan.pid))
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.set("left-behind", "kept")
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    client.close()
    served = Served(tmp_path, data_dir=data).wait_ready()
    try:
        assert orphan.wait(timeout=10) == 0  # stopped cleanly, its AOF written
        assert served.redis_pid != orphan.pid
        with redis.Redis.from_url(served.redis_url) as ours:
            assert ours.get("left-behind") == b"kept"
    finally:
        served.stop()


def test_a_dead_embedded_redis_is_restarted_and_service_resumes(tmp_path: Path) -> None:
    served = Served(tmp_path).wait_ready()
    try:
        v = Visitor(served.engine, "survivor-0001", origin=ORIGIN)
        assert v.page(f"{SHOP}/")["t"] == "ack"
        old = served.redis_pid
        killed_at = time.monotonic()
        subprocess.run(["kill", "-KILL", str(old)], check=True)
        assert gone(old)
        reply = v.page(f"{SHOP}/a", event_id="kept-1")
        if reply["t"] == "error":  # before the restart: not stored, the widget keeps it
            assert reply["code"] == "unavailable"
        deadline = time.monotonic() + 10
        while reply["t"] != "ack":
            assert time.monotonic() < deadline, "acks did not resume"
            time.sleep(0.05)
            reply = v.page(f"{SHOP}/a", event_id="kept-1")
        recovered = time.monotonic() - killed_at
        assert httpx.get(served.url + "/healthz").json()["status"] == "ok"
        assert served.redis_pid != old
        # The page view acked before the kill survived in the AOF: this is the
        # visit's third, fourth and fifth.
        for n in range(3):
            v.page(f"{SHOP}/b{n}")
        assert [a["rule"] for a in v.actions] == ["first-visit-signup-nudge"]
        assert "restarting it on port" in served.output()
        print(f"service resumed {recovered:.2f}s after redis-server was killed")
    finally:
        served.stop()


def test_invalid_utf8_frames_are_logged_in_one_line_each(tmp_path: Path) -> None:
    served = Served(tmp_path).wait_ready()
    try:
        for n in range(3):
            with connect(f"{served.engine.ws_url}/v1/ws?site=demo-shop&visitor=utf8-bad-{n:04}",
                         origin=ORIGIN, legacy=True) as ws:  # type: ignore[arg-type]
                ws.send(json.dumps({"t": "hello", "page": {"url": SHOP}}))
                ws.recv(timeout=5)
                ws.send(b'{"t": "event", "x": "\xff\xfe"}', text=True)
                with pytest.raises(Exception):  # noqa: B017 (closed with 1007)
                    ws.recv(timeout=5)
    finally:
        served.stop()
    log = served.output()
    assert log.count("invalid UTF-8 in a text frame") == 3, log
    assert "Traceback" not in log and "UnicodeDecodeError" not in log, log


def test_workers_run_with_the_engines_gc_settings(tmp_path: Path) -> None:
    served = Served(tmp_path, "--workers", "2").wait_ready(timeout=40)
    redis_pid = served.redis_pid
    try:
        workers, thresholds = set(), set()
        for _ in range(200):  # new connections land on either worker
            if len(workers) == 2 and len(thresholds) == 1:
                break
            text = httpx.get(served.url + "/metrics", headers={"Connection": "close"}).text
            workers.add(re.search(r"ondo_process_id (\d+)", text).group(1))  # type: ignore[union-attr]
            thresholds.add(re.search(r'ondo_gc_threshold\{generation="0"\} (\d+)',
                                     text).group(1))  # type: ignore[union-attr]
        assert thresholds == {"10000"}
        assert len(workers) == 2
    finally:
        assert served.stop() == 0
    assert gone(redis_pid)


def test_any_workers_metrics_count_every_workers_events(tmp_path: Path) -> None:
    served = Served(tmp_path, "--workers", "2").wait_ready(timeout=40)
    try:
        for n in range(12):  # new connections land on either worker
            visitor = Visitor(served.engine, f"spread-{n:04}", origin=ORIGIN, site="demo-shop")
            assert visitor.page(f"{SHOP}/p{n}")["t"] == "ack"
            visitor.close()
        time.sleep(1.5)  # each worker leaves its figures once a second
        workers, counts = set(), set()
        for _ in range(200):
            if len(workers) == 2:
                break
            text = httpx.get(served.url + "/metrics", headers={"Connection": "close"}).text
            workers.add(re.search(r"ondo_process_id (\d+)", text).group(1))  # type: ignore[union-attr]
            counts.add(re.search(r'ondo_events_total\{kind="pageview"\} (\d+)',
                                 text).group(1))  # type: ignore[union-attr]
        assert len(workers) == 2  # both answered a scrape
        assert counts == {"12"}  # and each counted all twelve page views
    finally:
        assert served.stop() == 0


def test_the_run_command_module_is_importable_without_test_packages() -> None:
    # The runtime install has no httpx or pytest: every `ondo` verb must load.
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('httpx', 'pytest', 'hypothesis', 'playwright'):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from engine.cli import build_parser\n"
            "build_parser()\n"
            "import engine.http.app, engine.cli.api, bench.load\n")
    subprocess.run([sys.executable, "-c", code], check=True)
