"""Wire protocol ``ondo.v1``: frame types, event kinds, error codes, close codes,
limits and the reconnect policy, defined once.

``docs/protocol.md`` documents these; the widget's constants
(``widgets/src/protocol.js``) are generated from this module
(``python -m engine.wire.protocol > widgets/src/protocol.js``) and a test checks the
generated file is current.

Connection: ``GET /v1/ws?site=SITE&visitor=VISITOR_ID`` with the subprotocol
``ondo.v1`` (JSON text frames) or ``ondo.v1.msgpack`` (msgpack binary frames).
Every frame is an object with a type field ``t``.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias, TypeGuard

VERSION = 1
SUBPROTOCOL_JSON = "ondo.v1"
SUBPROTOCOL_MSGPACK = "ondo.v1.msgpack"
SUBPROTOCOLS = (SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK)
WS_PATH = "/v1/ws"
BEACON_PATH = "/v1/beacon"  # POST, for the last events when a page hides or unloads

# A visitor id, as the widget makes it and as the socket and the beacon accept
# it: nothing else (a member's profile key, "m:<member id>", never passes).
VISITOR_ID = "[A-Za-z0-9_-]{8,64}"
_VISITOR_ID = re.compile(VISITOR_ID)


def valid_visitor_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _VISITOR_ID.fullmatch(value) is not None


Frame: TypeAlias = dict[str, Any]  # one frame as its JSON object, either way


class ClientFrame(enum.StrEnum):
    HELLO = "hello"  # {t, page: {url, referrer, title}, tz?}; once, first
    EVENT = "event"  # {t, id, kind, at, data}; acked once stored


class EventKind(enum.StrEnum):
    PAGEVIEW = "pageview"  # data: {url, referrer, title?, page_type?, product_id?, category?}
    CART = "cart"  # data: {items: [{product_id, qty, price}]}: the whole cart
    SIGNAL = "signal"  # data: {name: exit_intent|scroll|idle, value?}
    REPORT = "report"  # data: {action, rule, what: shown|clicked|closed}
    IDENTIFY = "identify"  # data: {member_id, signature}
    TRACK = "track"  # data: {name, props?}


SIGNALS = ("exit_intent", "scroll", "idle")
# When the widget sends each signal, once per page and only those the welcome
# names: in the terms of an action's arming (exit intent; 50% of the page
# scrolled; 30 s without input).
SIGNAL_ARMING: dict[str, dict[str, object]] = {
    "exit_intent": {"exit_intent": True}, "scroll": {"scroll": 50}, "idle": {"idle": 30.0}}


class ServerFrame(enum.StrEnum):
    WELCOME = "welcome"  # {t, v, visitor, member?, server_time}: answer to hello
    ACK = "ack"  # {t, id}: the event is stored (or was a duplicate)
    ACTION = "action"  # {t, id, rule, widget, content, arming}
    ERROR = "error"  # {t, code, message, field?, id?}


class ErrorCode(enum.StrEnum):
    BAD_FRAME = "bad_frame"  # not JSON/msgpack, or not an object
    BAD_FIELD = "bad_field"  # a field is missing or of the wrong type; `field` names it
    UNKNOWN_TYPE = "unknown_type"  # unknown frame type or event kind
    RATE_LIMITED = "rate_limited"  # over the per-connection event rate
    CART_TOO_LARGE = "cart_too_large"
    ID_CONFLICT = "id_conflict"  # an event id reused with different content
    UNAVAILABLE = "unavailable"  # storage is down: the event was not stored, keep it
    NOT_READY = "not_ready"  # an event before hello


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # an endpoint going away
    INVALID_DATA = 1007  # invalid UTF-8 in a text frame
    POLICY = 1008  # rate limit broken repeatedly
    TOO_BIG = 1009  # frame over the size limit
    INTERNAL = 1011
    SERVICE_RESTART = 1012  # the node is stopping (SIGTERM: deploy, rolling restart)
    TRY_AGAIN = 1013  # overloaded or storage down
    SLOW_CONSUMER = 4008  # the client did not read its frames; the send queue overflowed
    UNKNOWN_SITE = 4004
    FORBIDDEN = 4003  # origin not allowed (normally refused at handshake with 403)
    PROTOCOL = 4400  # repeated protocol errors


RECONNECT: dict[CloseCode, bool] = {
    CloseCode.NORMAL: False,
    CloseCode.GOING_AWAY: True,
    CloseCode.INVALID_DATA: False,
    CloseCode.POLICY: True,
    CloseCode.TOO_BIG: False,
    CloseCode.INTERNAL: True,
    CloseCode.SERVICE_RESTART: True,
    CloseCode.TRY_AGAIN: True,
    CloseCode.SLOW_CONSUMER: True,
    CloseCode.UNKNOWN_SITE: False,
    CloseCode.FORBIDDEN: False,
    CloseCode.PROTOCOL: False,
}
"""Whether the widget reconnects (with backoff) after each close code. Abnormal
closures without a code (1006) reconnect too. A "stop" close means the client
is misconfigured or broken; reconnecting would only repeat it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits. Each has a written outcome in docs/protocol.md."""

    max_frame_bytes: int = 64 * 1024  # over: close 1009
    events_per_second: float = 20.0  # token bucket rate; over: error rate_limited
    event_burst: int = 40  # bucket size
    rate_strikes: int = 10  # rate errors before close 1008
    max_cart_items: int = 100  # over: error cart_too_large
    max_event_id: int = 64  # characters
    max_string: int = 2048  # characters in any string field
    send_queue: int = 64  # frames queued for a client; over: close 4008
    ping_interval: float = 20.0  # seconds
    ping_timeout: float = 20.0
    protocol_strikes: int = 50  # bad frames before close 4400
    connects_per_second: float = 20.0  # new sockets per client address; over: HTTP 429
    connect_burst: int = 100  # bucket size of the above
    beacon_bytes: int = 64 * 1024  # a beacon's body; over: HTTP 413
    api_body_bytes: int = 1024 * 1024  # server events and admin calls; over: HTTP 413
    feed_bytes: int = 64 * 1024 * 1024  # a product feed (100,000 products); over: HTTP 413
    signin_attempts: int = 10  # console sign-ins per client address per window; over: HTTP 429
    signin_window: float = 300.0  # seconds
    console_session: float = 12 * 3600.0  # seconds a console session lasts
    forecast_entries: int = 5_000_000  # recorded entries one forecast replays; over: HTTP 413
    forecasts_per_site: int = 1  # forecasts of one site running at once; over: HTTP 429
    forecast_seconds: float = 300.0  # one forecast's run; over: stopped, HTTP 422 (since)
    forecast_memory: int = 1024 * 1024 * 1024  # bytes one forecast's worker may hold; over: 413
    # Heavy admin work (compiling, validating and explaining rule files, reading
    # a product feed) runs in worker processes, never on the event loop:
    jobs_per_site: int = 2  # such jobs of one site at once; over: HTTP 429
    job_seconds: float = 60.0  # CPU seconds of one job; over: stopped, HTTP 422
    job_memory: int = 1024 * 1024 * 1024  # bytes one job's worker may hold; over: HTTP 413
    # Every number that comes in has a domain (over: 422 / bad_field naming it):
    max_amount: int = 100_000_000_000  # won: an order's amount, an item's or product's price
    max_quantity: int = 100_000  # of one item in a cart or an order
    # Event properties (`track` props) are stored in the forecast recording:
    props_bytes: int = 4 * 1024  # one event's props as JSON; over: bad_field data.props
    visitor_props_bytes: int = 64 * 1024  # recorded per visitor per hour; past it, left out


LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: full jitter, ``random(0, min(cap, base * 2**attempt))``."""

    base_ms: int = 500
    cap_ms: int = 30_000


BACKOFF = Backoff()


def as_js() -> str:
    """The widget's constants module, generated from this one."""
    table = {
        "VERSION": VERSION,
        "SUBPROTOCOL_JSON": SUBPROTOCOL_JSON,
        "WS_PATH": WS_PATH,
        "BEACON_PATH": BEACON_PATH,
        "VISITOR_ID": VISITOR_ID,
        "CLIENT_FRAME": {f.name: f.value for f in ClientFrame},
        "EVENT_KIND": {k.name: k.value for k in EventKind},
        "SERVER_FRAME": {f.name: f.value for f in ServerFrame},
        "ERROR_CODE": {c.name: c.value for c in ErrorCode},
        "RECONNECT_AFTER": {str(int(c)): r for c, r in RECONNECT.items()},
        "LIMITS": asdict(LIMITS),
        "BACKOFF": asdict(BACKOFF),
        "SIGNALS": list(SIGNALS),
        "SIGNAL_ARMING": SIGNAL_ARMING,
    }
    lines = ["// Generated by `python -m engine.wire.protocol`; do not edit. "
             "Source: engine/wire/protocol.py"]
    for name, value in table.items():
        lines.append(f"export const {name} = {json.dumps(value, sort_keys=True)};")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(as_js())
