"""The socket's protocol state without a socket: messages in, frames and close
codes out, on a clock the test moves."""

from __future__ import annotations

import dataclasses
import json

import msgpack

from engine.wire.frames import FrameError
from engine.wire.protocol import LIMITS, CloseCode, ErrorCode
from engine.wire.session import Session


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


HELLO = json.dumps({"t": "hello", "page": {"url": "https://shop.example.com/"}})


def event(n: int) -> str:
    return json.dumps({"t": "event", "id": f"e{n}", "kind": "pageview",
                       "data": {"url": f"https://shop.example.com/p{n}"}})


def test_hello_is_welcomed_with_the_protocol_version_and_the_engines_time() -> None:
    step = Session("visitor-0001", LIMITS).receive(HELLO, now=1_795_000_000.0)
    assert step.frames == [{"t": "welcome", "v": 1, "visitor": "visitor-0001",
                            "server_time": 1_795_000_000.0, "signals": []}]
    assert step.event is None and step.close is None


def test_the_welcome_names_the_signals_the_rules_listen_for() -> None:
    session = Session("visitor-0001", LIMITS, signals=lambda: ("exit_intent",))
    assert session.receive(HELLO, now=0).frames[0]["signals"] == ["exit_intent"]


def test_an_event_before_hello_is_not_ready_and_kept_by_the_client() -> None:
    step = Session("visitor-0001", LIMITS).receive(event(1), now=0)
    assert [(f["code"], f["id"]) for f in step.frames] == [(ErrorCode.NOT_READY, "e1")]
    assert step.event is None


def test_events_go_to_the_pipeline_within_the_rate() -> None:
    session = Session("visitor-0001", LIMITS)
    session.receive(HELLO, now=0)
    step = session.receive(event(1), now=0)
    assert step.frames == [] and step.event is not None and step.event.id == "e1"


def test_a_flood_gets_rate_limited_then_closed_with_1008() -> None:
    clock = Clock()
    session = Session("visitor-0001", LIMITS, clock=clock)
    session.receive(HELLO, now=0)
    passed = [session.receive(event(n), now=0) for n in range(LIMITS.event_burst)]
    assert all(step.event is not None for step in passed)
    limited = [session.receive(event(100 + n), now=0) for n in range(LIMITS.rate_strikes)]
    assert all(step.frames[0]["code"] == ErrorCode.RATE_LIMITED for step in limited)
    assert [step.close for step in limited[-2:]] == [None, CloseCode.POLICY]


def test_the_bucket_refills_with_time() -> None:
    clock = Clock()
    limits = dataclasses.replace(LIMITS, event_burst=1, events_per_second=2.0)
    session = Session("visitor-0001", limits, clock=clock)
    session.receive(HELLO, now=0)
    assert session.receive(event(1), now=0).event is not None
    assert session.receive(event(2), now=0).event is None
    clock.t += 0.5
    assert session.receive(event(3), now=0).event is not None


def test_bad_frames_name_their_field_and_too_many_close_with_4400() -> None:
    limits = dataclasses.replace(LIMITS, protocol_strikes=3)
    session = Session("visitor-0001", limits)
    first = session.receive("{not json", now=0)
    assert first.frames[0]["code"] == ErrorCode.BAD_FRAME and first.close is None
    second = session.receive(json.dumps({"t": "event", "id": "x", "kind": "pageview",
                                         "data": {"url": 5}}), now=0)
    assert (second.frames[0]["field"], second.frames[0]["id"]) == ("data.url", "x")
    # An event the pipeline refused counts as a strike too.
    third = session.rejected(FrameError(ErrorCode.BAD_FIELD, "no", "data.action", "y"))
    assert third.close is CloseCode.PROTOCOL


def test_a_binary_session_reads_msgpack_and_refuses_text() -> None:
    session = Session("visitor-0001", LIMITS, binary=True)
    assert session.receive(msgpack.packb({"t": "hello", "page": {"url": "https://s/"}}),
                           now=0).frames[0]["t"] == "welcome"
    assert session.receive(HELLO, now=0).frames[0]["code"] == ErrorCode.BAD_FRAME
