"""Frames -> typed events (engine/wire/frames.py): every number has a domain
and a `track` event's properties a byte budget; what breaks one is a
``bad_field`` naming the field, the error frame the socket answers with (and
the beacon's 422)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from engine.wire.frames import MAX_AT, Event, FrameError, parse_frame
from engine.wire.protocol import LIMITS, ErrorCode


def event(kind: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"t": "event", "id": "e1", "kind": kind, "data": data, **extra}


def refused(frame: dict[str, Any]) -> tuple[str, str | None]:
    with pytest.raises(FrameError) as info:
        parse_frame(frame, LIMITS)
    return info.value.code, info.value.field


def cart(**item: Any) -> dict[str, Any]:
    return event("cart", {"items": [{"product_id": "P1", "qty": 1, "price": 30_000},
                                    {"product_id": "P2", **item}]})


def test_a_cart_holds_what_a_shop_sells() -> None:
    parsed = parse_frame(cart(qty=LIMITS.max_quantity, price=LIMITS.max_amount), LIMITS)
    assert isinstance(parsed, Event)
    assert parsed.data["items"][1] == {"product_id": "P2", "qty": 100_000,
                                       "price": 100_000_000_000.0}


@pytest.mark.parametrize(("item", "field"), [
    ({"price": LIMITS.max_amount + 1}, "data.items[1].price"),
    ({"price": 1e30}, "data.items[1].price"),
    ({"price": 2**63}, "data.items[1].price"),
    ({"price": -1}, "data.items[1].price"),
    ({"qty": LIMITS.max_quantity + 1}, "data.items[1].qty"),
    ({"qty": 2**64 - 1}, "data.items[1].qty"),
    ({"qty": 0}, "data.items[1].qty"),
])
def test_a_price_or_quantity_out_of_its_domain_is_named(item: dict[str, Any],
                                                        field: str) -> None:
    assert refused(cart(**item)) == (ErrorCode.BAD_FIELD, field)


def test_the_error_says_the_domain() -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(cart(price=1e12), LIMITS)
    assert str(info.value) == "data.items[1].price must be a number from 0 to 100,000,000,000"
    assert info.value.frame()["id"] == "e1"


@pytest.mark.parametrize("at", [-1, MAX_AT + 1, 1e300, 2**63])
def test_an_event_time_out_of_any_calendar_is_refused(at: float) -> None:
    frame = event("pageview", {"url": "https://shop.example.com/"}, at=at)
    assert refused(frame) == (ErrorCode.BAD_FIELD, "at")


def test_an_event_time_as_the_widget_sends_it_is_kept() -> None:
    frame = event("pageview", {"url": "https://shop.example.com/"}, at=1_795_000_000_123)
    parsed = parse_frame(frame, LIMITS)
    assert isinstance(parsed, Event) and parsed.at == 1_795_000_000_123


def props_of(size: int) -> dict[str, str]:
    """Properties whose JSON is exactly ``size`` bytes, each string within
    the 2,048 characters any string may hold."""
    props = {"a": "x" * 2_000, "b": "x" * 2_000, "c": ""}
    props["c"] = "x" * (size - len(orjson.dumps(props)))
    return props


def test_a_tracked_events_properties_have_a_byte_budget() -> None:
    fits = props_of(LIMITS.props_bytes)
    assert len(orjson.dumps(fits)) == LIMITS.props_bytes
    parsed = parse_frame(event("track", {"name": "wish", "props": fits}), LIMITS)
    assert isinstance(parsed, Event) and parsed.data["props"] == fits
    over = props_of(LIMITS.props_bytes + 1)
    assert refused(event("track", {"name": "wish", "props": over})) == (
        ErrorCode.BAD_FIELD, "data.props")


def test_the_issues_properties_are_refused() -> None:
    # 30 properties of 2,000 characters: 65 KiB of Redis each before the budget.
    props = {f"p{n}": "x" * 2_000 for n in range(30)}
    assert refused(event("track", {"name": "wish", "props": props})) == (
        ErrorCode.BAD_FIELD, "data.props")
