"""Bodies of every HTTP route: refused with 413 at their limit however they
are sent, without the engine ever holding them; JSON of any depth is a 4xx,
never a 500."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from rules.limits import MAX_FILE_BYTES
from tests.conftest import ORIGIN, Engine, run_engine, signed, site_config
from tests.engine.client import Visitor
from tests.engine.served import ORIGIN as SERVED_ORIGIN
from tests.engine.served import Served

TOKEN = "admin-token-bodies"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def node(redis_url: str) -> Iterator[Engine]:
    config = Config(sites={"demo-shop": site_config(
        admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())})
    with run_engine(config, redis_url) as running:
        yield running


# (method, path, headers, limit) of every route that reads a body
ROUTES = [
    ("POST", "/v1/beacon", {"Origin": ORIGIN}, LIMITS.beacon_bytes),
    ("POST", "/v1/sites/demo-shop/events", {}, LIMITS.api_body_bytes),
    ("PUT", "/v1/sites/demo-shop/rules", ADMIN, MAX_FILE_BYTES),
    ("POST", "/v1/sites/demo-shop/rules/validate", ADMIN, MAX_FILE_BYTES),
    ("POST", "/v1/sites/demo-shop/rules/explain", ADMIN, LIMITS.api_body_bytes),
    ("POST", "/v1/sites/demo-shop/rules/rollback", ADMIN, LIMITS.api_body_bytes),
]
IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


@pytest.mark.parametrize(("method", "path", "headers", "limit"), ROUTES, ids=IDS)
def test_a_declared_length_over_the_limit_is_refused_at_once(
        node: Engine, method: str, path: str, headers: dict[str, str], limit: int) -> None:
    reply = httpx.request(method, node.url + path, content=b" " * (limit + 1), headers=headers)
    assert (reply.status_code, reply.json()["field"]) == (413, "body")


@pytest.mark.parametrize(("method", "path", "headers", "limit"), ROUTES, ids=IDS)
def test_a_chunked_body_over_the_limit_is_refused(
        node: Engine, method: str, path: str, headers: dict[str, str], limit: int) -> None:
    reply = httpx.request(method, node.url + path, content=chunks(limit + 1), headers=headers)
    assert (reply.status_code, reply.json()["field"]) == (413, "body")


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM:")))


def test_a_48_mib_body_does_not_grow_the_engine(tmp_path: Path) -> None:
    served = Served(tmp_path).wait_ready()
    try:
        pid = served.process.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to the current RSS
        before = peak_rss_kib(pid)
        for path, headers in (("/v1/beacon", {"Origin": SERVED_ORIGIN}),
                              ("/v1/sites/demo-shop/events", {})):
            try:
                reply = httpx.post(served.url + path, content=chunks(48 * 1024 * 1024),
                                   headers=headers, timeout=30)
                assert reply.status_code == 413
            except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
                pass  # it answered 413 and closed before the client was done sending
        grown = peak_rss_kib(pid) - before
        assert grown < 8 * 1024, f"peak RSS grew by {grown} KiB"
        assert httpx.get(served.url + "/healthz").status_code == 200
    finally:
        served.stop()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("POST", "/v1/beacon", {"Origin": ORIGIN}),
    ("POST", "/v1/sites/demo-shop/rules/explain", ADMIN),
    ("POST", "/v1/sites/demo-shop/rules/rollback", ADMIN)])
def test_json_nested_30000_deep_is_a_400(node: Engine, method: str, path: str,
                                        headers: dict[str, str]) -> None:
    body = b'{"site": ' + nested(30_000) + b"}"
    reply = httpx.request(method, node.url + path, content=body, headers=headers)
    assert (reply.status_code, reply.json()["field"]) == (400, "body")


def test_signed_server_events_nested_deep_are_a_400(node: Engine) -> None:
    body = b'{"events": ' + nested(30_000) + b"}"
    reply = httpx.post(f"{node.url}/v1/sites/demo-shop/events", content=body,
                       headers=signed(body))
    assert (reply.status_code, reply.json()["field"]) == (400, "body")


def test_an_explain_profile_with_deeply_nested_values_is_a_422(node: Engine) -> None:
    deep = json.loads(nested(900))
    for attribute in ("visit_count", "member_name", "tags", "coupons"):
        reply = httpx.post(f"{node.url}/v1/sites/demo-shop/rules/explain", headers=ADMIN,
                           json={"profile": {attribute: deep}})
        assert (reply.status_code, reply.json()["field"]) == (422, f"profile.{attribute}")


def test_after_a_413_the_connection_is_closed_not_drained(node: Engine) -> None:
    host, port = node.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/beacon HTTP/1.1\r\nHost: shop\r\nOrigin: " + ORIGIN.encode()
                     + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 48 * 1024 * 1024:
                sock.sendall(chunk)
                sent += 65536
    assert sent < 16 * 1024 * 1024, "the engine kept reading a body it had refused"


def put_rules(node: Engine, text: str) -> httpx.Response:
    return httpx.put(f"{node.url}/v1/sites/demo-shop/rules", content=text.encode(),
                     headers=ADMIN, timeout=60)


@pytest.mark.parametrize(("text", "where"), [
    ("site: demo-shop\nrules: " + "[" * 10_000 + "]" * 10_000 + "\n", (2, 39)),
    ("site: demo-shop\nrules:\n  - id: deep\n    if: \"" + "(" * 900 + "visit_count > 1"
     + ")" * 900 + "\"\n    do: {widget: push_note, title: t, body: b}\n", (4, 42)),
], ids=["yaml-10000-deep", "900-parentheses"])
def test_a_deeply_nested_rule_file_is_a_422_with_its_position(node: Engine, text: str,
                                                              where: tuple[int, int]) -> None:
    reply = put_rules(node, text)
    assert reply.status_code == 422, reply.text
    (problem,) = reply.json()["errors"]
    assert (problem["line"], problem["column"]) == where and problem["hint"]


def test_a_generated_1000_term_or_chain_goes_live(node: Engine) -> None:
    chain = " or ".join(f'product_id == "P{n}"' for n in range(1000))
    text = ("site: demo-shop\nrules:\n  - id: any-of-1000\n"
            f"    if: '{chain}'\n    do: {{widget: push_note, title: 지금 특가, body: 오늘만}}\n")
    assert put_rules(node, text).status_code == 200
    v = Visitor(node, "chain-visitor1")
    v.page("https://shop.example.com/p/P999", product_id="P999")
    assert [a["rule"] for a in v.actions] == ["any-of-1000"]


def test_a_client_gone_mid_body_is_one_line_not_a_traceback(
        node: Engine, caplog: pytest.LogCaptureFixture) -> None:
    # uvicorn's own logger does not reach the root one: listen to it as well.
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(caplog.handler)
    host, port = node.url.removeprefix("http://").split(":")
    try:
        with caplog.at_level(logging.INFO, logger="ondo.http"):
            for method, path, headers, _ in ROUTES:
                head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                with socket.create_connection((host, int(port)), timeout=10) as sock:
                    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: shop\r\n{head}"
                                 "Content-Length: 1000\r\n\r\n".encode() + b"{" * 100)
                deadline = time.monotonic() + 5
                while not any(path in r.getMessage() for r in caplog.records) and \
                        time.monotonic() < deadline:
                    time.sleep(0.02)
    finally:
        server_log.removeHandler(caplog.handler)
    assert [r.exc_info for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    gone = [r.getMessage() for r in caplog.records if r.name == "ondo.http"]
    assert gone == [f"{method} {path}: the client went away after 100 bytes of its body"
                    for method, path, _, _ in ROUTES]
    assert httpx.get(f"{node.url}/healthz").status_code == 200
