"""Bad input at the websocket: each gets its documented answer, no profile
changes, and a neighbour connection never notices."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time

import httpx
import msgpack
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import ORIGIN, Engine, run_engine, site_config
from tests.engine.client import Visitor

SHOP = "https://shop.example.com"


def refused(engine: Engine, query: str, origin: str | None) -> int:
    kwargs = {"origin": origin} if origin is not None else {}
    with pytest.raises(InvalidStatus) as info:
        connect(f"{engine.ws_url}/v1/ws?{query}", open_timeout=5, legacy=True,
                **kwargs)  # type: ignore[arg-type]
    return info.value.response.status_code


@pytest.mark.parametrize("origin", [
    "https://shop.example.com.evil.io", "http://shop.example.com", "null",
    "https://evil.io", "https://shop.example.com:8443", None])
def test_disallowed_or_lookalike_origins_are_refused(engine: Engine, origin: str | None) -> None:
    assert refused(engine, "site=demo-shop&visitor=visitor-0001", origin) == 403


def test_unknown_site_and_bad_visitor_ids_are_refused(engine: Engine) -> None:
    assert refused(engine, "site=nope&visitor=visitor-0001", ORIGIN) == 403
    assert refused(engine, "site=demo-shop&visitor=x", ORIGIN) == 403
    assert refused(engine, "site=demo-shop&visitor=bad%20id%3Cscript", ORIGIN) == 403


def test_malformed_frames_get_error_frames_naming_the_field(engine: Engine) -> None:
    v = Visitor(engine, "bad-frames-01")
    v.ws.send("{not json")
    assert v.recv()["code"] == "bad_frame"
    v.ws.send(json.dumps(["an", "array"]))
    assert v.recv()["code"] == "bad_frame"
    v.ws.send(json.dumps({"t": "shout"}))
    assert v.recv() == {"t": "error", "code": "unknown_type", "field": "t",
                        "message": "unknown frame type 'shout'"}
    error = v.send("dance", {})
    assert (error["code"], error["field"]) == ("unknown_type", "kind")
    error = v.send("pageview", {"url": 42})
    assert (error["code"], error["field"]) == ("bad_field", "data.url")
    error = v.send("cart", {"items": [{"product_id": "P1", "qty": -1}]})
    assert (error["code"], error["field"]) == ("bad_field", "data.items[0].qty")
    # The connection stays usable.
    assert v.page(f"{SHOP}/")["t"] == "ack"


def test_carts_over_the_item_limit_are_rejected(engine: Engine) -> None:
    v = Visitor(engine, "big-cart-001")
    items = [{"product_id": f"P{i}", "qty": 1, "price": 1000} for i in range(101)]
    error = v.send("cart", {"items": items})
    assert error["code"] == "cart_too_large"


def test_an_oversized_frame_closes_with_1009(engine: Engine) -> None:
    v = Visitor(engine, "oversized-01")
    v.ws.send(json.dumps({"t": "event", "pad": "x" * (70 * 1024)}))
    with pytest.raises(ConnectionClosed) as info:
        v.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_invalid_utf8_closes_with_1007(engine: Engine) -> None:
    v = Visitor(engine, "bad-utf8-001")
    v.ws.send(b'{"t": "hello", "x": "\xff\xfe"}', text=True)
    with pytest.raises(ConnectionClosed) as info:
        v.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007


def test_over_the_event_rate_gets_errors_then_close_1008(engine: Engine) -> None:
    v = Visitor(engine, "flooder-0001")

    def flood() -> None:
        # The engine may close the socket before the flood is all sent: the
        # sending stops there, in its own thread, while this one reads.
        with contextlib.suppress(ConnectionClosed):
            for n in range(200):
                v.ws.send(json.dumps({"t": "event", "id": f"f{n}", "kind": "track",
                                      "data": {"name": "x"}}))

    sender = threading.Thread(target=flood)
    sender.start()
    frames = []
    with pytest.raises(ConnectionClosed) as info:
        while True:
            frames.append(v.recv())
    acked = [f for f in frames if f["t"] == "ack"]
    limited = [f for f in frames if f.get("code") == "rate_limited"]
    assert 40 <= len(acked) < 200  # the burst passes, the flood does not
    assert len(limited) == 10  # then the connection is closed for policy
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    sender.join()


def test_an_event_id_reused_with_other_content_is_rejected(engine: Engine) -> None:
    v = Visitor(engine, "reuser-00001")
    assert v.page(f"{SHOP}/a", event_id="same")["t"] == "ack"
    assert v.page(f"{SHOP}/a", event_id="same")["t"] == "ack"  # a resend: acked, no effect
    error = v.page(f"{SHOP}/b", event_id="same")
    assert (error["t"], error["code"]) == ("error", "id_conflict")


def test_duplicates_are_not_counted_twice(engine: Engine) -> None:
    v = Visitor(engine, "dup-counter1")
    for _ in range(3):
        v.page(f"{SHOP}/p", event_id="pv-1")
    for n in range(3):
        v.page(f"{SHOP}/p{n}")
    # Four distinct page views: the signup nudge (5 pages) must not fire.
    assert v.actions == []
    v.page(f"{SHOP}/p9")
    assert [a["rule"] for a in v.actions] == ["first-visit-signup-nudge"]


def test_a_neighbour_never_notices(engine: Engine) -> None:
    good, bad = Visitor(engine, "neighbour-01"), Visitor(engine, "attacker-001")
    bad.ws.send("x" * 10)
    bad.ws.send(json.dumps({"t": "event", "pad": "y" * (70 * 1024)}))
    assert good.page(f"{SHOP}/")["t"] == "ack"


def test_msgpack_subprotocol(engine: Engine) -> None:
    with connect(f"{engine.ws_url}/v1/ws?site=demo-shop&visitor=binary-0001", origin=ORIGIN,
                 subprotocols=["ondo.v1.msgpack"], legacy=True) as ws:  # type: ignore[arg-type,list-item]
        assert ws.subprotocol == "ondo.v1.msgpack"
        ws.send(msgpack.packb({"t": "hello", "page": {"url": SHOP}}))
        assert msgpack.unpackb(ws.recv(timeout=5))["t"] == "welcome"
        ws.send(msgpack.packb({"t": "event", "id": "m1", "kind": "pageview",
                               "data": {"url": SHOP + "/"}}))
        assert msgpack.unpackb(ws.recv(timeout=5)) == {"t": "ack", "id": "m1"}


def test_healthz_and_metrics(engine: Engine) -> None:
    Visitor(engine, "metrics-0001").page(f"{SHOP}/")
    health = httpx.get(f"{engine.url}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    text = httpx.get(f"{engine.url}/metrics").text
    assert 'ondo_matcher_info{implementation="cython"} 1' in text
    assert 'ondo_events_total{kind="pageview"}' in text
    assert 'ondo_stage_seconds_count{stage="store"}' in text


def test_msgpack_track_props_must_be_plain_json(engine: Engine) -> None:
    with connect(f"{engine.ws_url}/v1/ws?site=demo-shop&visitor=binary-0002", origin=ORIGIN,
                 subprotocols=["ondo.v1.msgpack"], legacy=True) as ws:  # type: ignore[arg-type,list-item]
        ws.send(msgpack.packb({"t": "hello", "page": {"url": SHOP}}))
        ws.recv(timeout=5)
        ws.send(msgpack.packb({"t": "event", "id": "m2", "kind": "track",
                               "data": {"name": "wish", "props": {"raw": b"\x00\xff"}}}))
        error = msgpack.unpackb(ws.recv(timeout=5))
        assert (error["code"], error["field"], error["id"]) == (
            "bad_field", "data.props.raw", "m2")
        ws.send(msgpack.packb({"t": "event", "id": "m3", "kind": "track",
                               "data": {"name": "wish", "props": {"sku": "A-1", "n": 2}}}))
        assert msgpack.unpackb(ws.recv(timeout=5)) == {"t": "ack", "id": "m3"}


def test_new_sockets_per_address_are_limited_with_a_429(redis_url: str) -> None:
    limits = dataclasses.replace(LIMITS, connects_per_second=0.5, connect_burst=3)
    config = Config(sites={"demo-shop": site_config()}, limits=limits)
    with run_engine(config, redis_url) as engine:
        for n in range(3):  # a reconnecting client gets its burst, then waits
            Visitor(engine, f"reconnect-{n:03}").close()
        with pytest.raises(InvalidStatus) as info:
            Visitor(engine, "reconnect-999")
        assert info.value.response.status_code == 429
        assert json.loads(info.value.response.body or b"{}")["field"] == "address"


def test_an_unexpected_error_closes_that_socket_with_1011_and_leaves_no_trace(
        engine: Engine) -> None:
    found = engine.app.state.services  # type: ignore[attr-defined]
    handle = found.pipeline.handle

    async def broken(visitor: object, event: object, now: float) -> object:
        if getattr(event, "id", "") == "boom":
            raise RuntimeError("a bug")
        return await handle(visitor, event, now)

    found.pipeline.handle = broken
    try:
        v = Visitor(engine, "unlucky-0001")
        v.ws.send(json.dumps({"t": "event", "id": "boom", "kind": "pageview", "at": 0,
                              "data": {"url": "https://shop.example.com/"}}))
        with pytest.raises(ConnectionClosed) as closed:
            v.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        other = Visitor(engine, "neighbour-0001")  # everyone else goes on
        assert other.page("https://shop.example.com/")["t"] == "ack"
        other.close()
    finally:
        found.pipeline.handle = handle
    deadline = time.monotonic() + 2  # the neighbour's own close is being handled
    while "ondo_connections 0" not in httpx.get(f"{engine.url}/metrics").text:
        assert time.monotonic() < deadline, "a connection is still counted"
        time.sleep(0.05)
    assert not found.sockets
