"""Two real engine processes (``ondo serve``) against one real Redis, and
again against a real Redis Cluster (3 masters, 3 replicas): rule uploads reach
both within a second, pushes reach the node holding the socket, an order
posted to both at once counts once, a visitor's events and identity merge
add up whichever node takes them, and the stats count both nodes."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.flow.identity import sign_member
from engine.runtime.embedded import free_port
from tests.conftest import ORIGIN, SECRET, SEED_RULES, Engine, signed
from tests.engine.client import Visitor

TOKEN = "two-node-admin-token"
PROCESSES: dict[str, subprocess.Popen[bytes]] = {}  # url -> the node serving it
SHOP = "https://shop.example.com"


def write_config(path: Path) -> Path:
    path.write_text(f"""
[[sites]]
id = "demo-shop"
origins = ["{ORIGIN}"]
secret = "{SECRET}"
admin_token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
rules = "{SEED_RULES}"
""", encoding="utf-8")
    return path


@pytest.fixture(params=["single", "cluster"])
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    redis_url = request.getfixturevalue("redis_url" if request.param == "single" else
                                        "cluster_url")
    config = write_config(tmp_path / "sites.toml")
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--config", str(config), "--port",
             str(port), "--redis", redis_url], env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        urls.append(f"http://127.0.0.1:{port}")
        PROCESSES[urls[-1]] = procs[-1]
    deadline = time.monotonic() + 20
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("engine nodes did not start")
            time.sleep(0.1)
    yield urls
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def engine(url: str) -> Engine:
    return Engine(url, url.replace("http", "ws"), None, None)  # type: ignore[arg-type]


def post(url: str, events: list[dict[str, object]]) -> httpx.Response:
    body = json.dumps({"events": events}).encode()
    return httpx.post(f"{url}/v1/sites/demo-shop/events", content=body, timeout=10,
                      headers=signed(body))


def test_an_upload_to_one_node_is_live_on_the_other_within_a_second(nodes: list[str]) -> None:
    a, b = nodes
    v = Visitor(engine(b), "two-node-v1")
    source = SEED_RULES.read_text(encoding="utf-8").replace("회원가입 혜택", "노드 B도 새 규칙")
    started = time.monotonic()
    reply = httpx.put(f"{a}/v1/sites/demo-shop/rules", content=source.encode(),
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    for n in range(4):
        v.page(f"{SHOP}/p{n}")
    while True:
        v.actions.clear()
        v.page(f"{SHOP}/again-{time.monotonic()}")
        titles = [x["content"].get("title") for x in v.actions]
        if "노드 B도 새 규칙" in titles:
            break
        assert time.monotonic() - started < 1.0, titles
        time.sleep(0.05)


def test_a_purchase_posted_to_one_node_reaches_the_visitor_on_the_other(
        nodes: list[str]) -> None:
    a, b = nodes
    v = Visitor(engine(b), "two-node-v2")
    v.page(f"{SHOP}/")
    rules_with_thanks = SEED_RULES.read_text(encoding="utf-8") + """
  - id: thanks
    on: purchase
    if: purchase_count >= 1
    do: { widget: push_note, title: "구매 감사합니다" }
"""
    httpx.put(f"{a}/v1/sites/demo-shop/rules", content=rules_with_thanks.encode(),
              headers={"Authorization": f"Bearer {TOKEN}"})
    time.sleep(0.3)
    post(a, [{"type": "purchase", "order_id": "N-1", "visitor_id": "two-node-v2",
              "amount": 10_000}])
    pushed = v.recv(timeout=5)
    assert (pushed["t"], pushed["rule"]) == ("action", "thanks")


def test_the_same_order_posted_to_both_nodes_at_once_counts_once(nodes: list[str]) -> None:
    order = {"type": "purchase", "order_id": "RACE-1", "visitor_id": "racer-00001",
             "amount": 50_000}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda url: post(url, [order]), nodes * 4))
    statuses = sorted(r.json()["events"][0]["status"] for r in replies)
    assert statuses == ["dup"] * 7 + ["new"]
    explain = httpx.post(f"{nodes[0]}/v1/sites/demo-shop/rules/explain",
                         json={"visitor": "racer-00001"},
                         headers={"Authorization": f"Bearer {TOKEN}"}).json()
    loyal = next(r for r in explain["rules"] if r["rule"] == "loyal-coupon")
    assert {"text": "purchase_total >= 300000", "value": False, "actual": 50_000} in \
        loyal["predicates"]


def test_sigterm_closes_sockets_with_1012_service_restart(nodes: list[str]) -> None:
    # The fixture's processes are real `ondo serve` nodes: stop one like an
    # orchestrator would, and its visitors are told to go elsewhere.
    import signal

    from websockets.exceptions import ConnectionClosed

    a, _ = nodes
    v = Visitor(engine(a), "leaving-0001")
    assert v.page(f"{SHOP}/")["t"] == "ack"
    os.kill(PROCESSES[a].pid, signal.SIGTERM)
    with pytest.raises(ConnectionClosed) as info:
        v.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012


def explain(url: str, visitor: str) -> dict[str, object]:
    """The actual values the rules of the active version read for ``visitor``."""
    reply = httpx.post(f"{url}/v1/sites/demo-shop/rules/explain", json={"visitor": visitor},
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    return {p["text"]: p["actual"] for r in reply["rules"] for p in r["predicates"]}


COUNTING = """site: demo-shop
rules:
  - id: counting
    if: pageviews_total >= 1000 and visit_count >= 1 and purchase_count >= 0
    do: { widget: push_note, title: "세는 중" }
  - id: hello
    if: pageviews_total >= 1
    do: { widget: push_note, title: "안녕하세요" }
"""


def upload(url: str, source: str) -> None:
    reply = httpx.put(f"{url}/v1/sites/demo-shop/rules", content=source.encode(),
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    time.sleep(0.3)  # the announcement reaches the other node


def test_a_visitors_events_add_up_whichever_node_takes_them(nodes: list[str]) -> None:
    a, b = nodes
    upload(a, COUNTING)
    for n in range(6):
        v = Visitor(engine(nodes[n % 2]), "wanderer-01")
        assert v.page(f"{SHOP}/p{n}")["t"] == "ack"
        v.close()
    assert explain(a, "wanderer-01")["pageviews_total >= 1000"] == 6
    assert explain(b, "wanderer-01")["pageviews_total >= 1000"] == 6


def test_an_identity_merge_on_one_node_takes_what_the_other_node_stored(
        nodes: list[str]) -> None:
    a, b = nodes
    upload(a, COUNTING)
    phone = Visitor(engine(a), "phone-0001")
    for n in range(3):
        phone.page(f"{SHOP}/phone-{n}")
    laptop = Visitor(engine(b), "laptop-0001")
    laptop.page(f"{SHOP}/laptop")
    for device in (phone, laptop):
        reply = device.send("identify", {"member_id": "kim",
                                         "signature": sign_member(SECRET, "kim")})
        assert reply["t"] == "ack", reply
    assert explain(a, "m:kim")["pageviews_total >= 1000"] == 4
    assert explain(b, "m:kim")["pageviews_total >= 1000"] == 4


def test_the_stats_count_what_both_nodes_showed(nodes: list[str]) -> None:
    upload(nodes[0], COUNTING)
    for n in range(10):
        v = Visitor(engine(nodes[n % 2]), f"counted-{n:04}")
        v.page(f"{SHOP}/")
        for action in v.actions:
            v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
        v.close()
    time.sleep(1.5)  # each node writes its counters once a second
    for url in nodes:
        reply = httpx.get(f"{url}/v1/sites/demo-shop/stats", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}).json()
        (hello,) = [r for r in reply["rules"] if r["rule"] == "hello"]
        assert hello["shown"] == 10, hello
