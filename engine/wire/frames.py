"""Client frames -> typed events, and server frames -> bytes (protocol ondo.v1).

Decoding never raises anything but ``FrameError``, which carries the protocol
error code and the field at fault, so the gateway answers with an error frame
and the connection stays.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from engine.wire.protocol import SIGNALS, ClientFrame, ErrorCode, EventKind, Limits, ServerFrame
from rules.ruleset import REPORTS


class FrameError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: str | None = None,
                 event_id: str | None = None) -> None:
        self.code, self.field, self.event_id = code, field, event_id
        super().__init__(message)

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": ServerFrame.ERROR, "code": self.code, "message": str(self)}
        if self.field:
            out["field"] = self.field
        if self.event_id:
            out["id"] = self.event_id
        return out


@dataclass(frozen=True, slots=True)
class Hello:
    url: str
    referrer: str
    title: str


@dataclass(slots=True)  # not frozen: built per event, and frozen __init__ costs 3x
class Event:
    id: str
    kind: EventKind
    at: float  # client time, ms (informational; the server's clock decides)
    data: dict[str, Any]
    digest: str  # hash of kind + data: the same id must always carry the same content


_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]+")
# The latest client time an event may carry, in ms: 9999-12-31T23:59:59.999Z,
# the last moment every date tool (Python's datetime, ISO 8601) can write.
MAX_AT = 253_402_300_799_999
_KINDS = {kind.value: kind for kind in EventKind}


def decode(message: str | bytes, binary: bool) -> Any:
    try:
        if binary:
            if isinstance(message, str):
                raise FrameError(ErrorCode.BAD_FRAME, "expected a binary msgpack frame")
            return msgpack.unpackb(message, raw=False)
        if isinstance(message, bytes):
            raise FrameError(ErrorCode.BAD_FRAME, "expected a text JSON frame")
        return orjson.loads(message)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise FrameError(ErrorCode.BAD_FRAME, f"not valid {'msgpack' if binary else 'JSON'}: "
                         f"{exc}") from None


def encode(frame: dict[str, Any], binary: bool) -> str | bytes:
    if binary:
        return msgpack.packb(frame)  # type: ignore[no-any-return]
    return orjson.dumps(frame).decode()


def _string(data: dict[str, Any], name: str, limits: Limits, *, required: bool = True,
            prefix: str = "data.") -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise FrameError(ErrorCode.BAD_FIELD, f"{prefix}{name} must be a string",
                         prefix + name)
    if len(value) > limits.max_string:
        raise FrameError(ErrorCode.BAD_FIELD, f"{prefix}{name} is longer than "
                         f"{limits.max_string} characters", prefix + name)
    return value


def _required(data: dict[str, Any], name: str, limits: Limits, prefix: str = "data.") -> str:
    value = _string(data, name, limits, prefix=prefix)
    assert value is not None  # _string raised otherwise
    return value


def _number(value: Any, field: str, *, minimum: float = 0, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or not minimum <= value <= maximum:
        within = f"from {minimum:,g} to {maximum:,.0f}" if maximum < math.inf else \
            f"≥ {minimum:g}"
        raise FrameError(ErrorCode.BAD_FIELD, f"{field} must be a number {within}", field)
    return float(value)


def parse_frame(obj: Any, limits: Limits) -> Hello | Event:
    if not isinstance(obj, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "a frame is an object with a type field 't'")
    kind = obj.get("t")
    if kind == ClientFrame.HELLO:
        page = obj.get("page")
        if not isinstance(page, dict):
            raise FrameError(ErrorCode.BAD_FIELD, "page must be an object", "page")
        url = _string(page, "url", limits, prefix="page.") or ""
        referrer = _string(page, "referrer", limits, required=False, prefix="page.") or ""
        title = _string(page, "title", limits, required=False, prefix="page.") or ""
        return Hello(url, referrer, title)
    if kind != ClientFrame.EVENT:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {kind!r}", "t")
    event_id = obj.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= limits.max_event_id or \
            not _EVENT_ID.fullmatch(event_id):
        raise FrameError(ErrorCode.BAD_FIELD, "id must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                         "id")
    kind_name = obj.get("kind")
    event_kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if event_kind is None:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown event kind {obj.get('kind')!r}",
                         "kind", event_id)
    data = obj.get("data", {})
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FIELD, "data must be an object", "data", event_id)
    at = obj.get("at", 0)
    try:
        at = _number(at, "at", maximum=MAX_AT)
        clean = _check_data(event_kind, data, limits)
    except FrameError as exc:
        exc.event_id = event_id
        raise
    digest = hashlib.sha1(orjson.dumps([event_kind, clean], option=orjson.OPT_SORT_KEYS)
                          ).hexdigest()[:20]
    return Event(event_id, event_kind, at, clean, digest)


def _check_data(kind: EventKind, data: dict[str, Any], limits: Limits) -> dict[str, Any]:
    if kind is EventKind.PAGEVIEW:
        out: dict[str, Any] = {"url": _string(data, "url", limits)}
        for name in ("referrer", "title", "page_type", "product_id", "category"):
            value = _string(data, name, limits, required=False)
            if value is not None:
                out[name] = value
        return out
    if kind is EventKind.CART:
        items = data.get("items")
        if not isinstance(items, list):
            raise FrameError(ErrorCode.BAD_FIELD, "data.items must be a list", "data.items")
        if len(items) > limits.max_cart_items:
            raise FrameError(ErrorCode.CART_TOO_LARGE, f"a cart holds at most "
                             f"{limits.max_cart_items} items", "data.items")
        clean = []
        for index, item in enumerate(items):
            where = f"data.items[{index}]"
            if not isinstance(item, dict):
                raise FrameError(ErrorCode.BAD_FIELD, f"{where} must be an object", where)
            product = _string(item, "product_id", limits, prefix=where + ".")
            qty = _number(item.get("qty", 1), where + ".qty", minimum=1,
                          maximum=limits.max_quantity)
            price = _number(item.get("price", 0), where + ".price", maximum=limits.max_amount)
            if not qty.is_integer():
                raise FrameError(ErrorCode.BAD_FIELD, f"{where}.qty must be a whole number",
                                 where + ".qty")
            clean.append({"product_id": product, "qty": int(qty), "price": price})
        return {"items": clean}
    if kind is EventKind.SIGNAL:
        name = _required(data, "name", limits)
        if name not in SIGNALS:
            raise FrameError(ErrorCode.BAD_FIELD, f"data.name must be one of {', '.join(SIGNALS)}",
                             "data.name")
        return {"name": name}
    if kind is EventKind.REPORT:
        what = _required(data, "what", limits)
        if what not in REPORTS:
            raise FrameError(ErrorCode.BAD_FIELD, "data.what must be shown, clicked or closed",
                             "data.what")
        return {"what": what, "rule": _string(data, "rule", limits),
                "action": _string(data, "action", limits)}
    if kind is EventKind.IDENTIFY:
        return {"member_id": _string(data, "member_id", limits),
                "signature": _string(data, "signature", limits)}
    name = _required(data, "name", limits)
    props = data.get("props", {})
    if not isinstance(props, dict):
        raise FrameError(ErrorCode.BAD_FIELD, "data.props must be an object", "data.props")
    _check_json(props, "data.props", limits)
    size = len(orjson.dumps(props))
    if size > limits.props_bytes:
        raise FrameError(ErrorCode.BAD_FIELD, f"data.props is {size:,} bytes of JSON; at most "
                         f"{limits.props_bytes:,}", "data.props")
    return {"name": name, "props": props}


def _check_json(value: Any, where: str, limits: Limits, depth: int = 0) -> None:
    """Plain JSON values only (a msgpack frame can carry bytes or NaN), a few levels deep."""
    if isinstance(value, dict):
        if depth >= 4:
            raise FrameError(ErrorCode.BAD_FIELD, f"{where} is nested too deeply", where)
        for key, item in value.items():
            if not isinstance(key, str):
                raise FrameError(ErrorCode.BAD_FIELD, f"{where} keys must be strings", where)
            _check_json(item, f"{where}.{key}", limits, depth + 1)
    elif isinstance(value, list):
        if depth >= 4:
            raise FrameError(ErrorCode.BAD_FIELD, f"{where} is nested too deeply", where)
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", limits, depth + 1)
    elif isinstance(value, str):
        if len(value) > limits.max_string:
            raise FrameError(ErrorCode.BAD_FIELD, f"{where} is longer than "
                             f"{limits.max_string} characters", where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FrameError(ErrorCode.BAD_FIELD, f"{where} must be a finite number", where)
    elif value is not None and not isinstance(value, bool | int):
        raise FrameError(ErrorCode.BAD_FIELD, f"{where} must be a JSON value", where)
