"""``POST /v1/beacon``: the widget's last events when a page hides or unloads
(``navigator.sendBeacon``), ``{"site", "visitor", "events": [event frames]}``.
The same checks as the socket (origin, visitor id, frames, reports), all of
them before any event is stored; the same pipeline. No actions come back.

Unauthenticated, so bounded as the socket is (docs/protocol.md, "Beacon"):
each beacon takes a token of its address's bucket, the one new sockets take
(over: 429 naming ``address``), and its events take tokens of the visitor's
bucket, at a socket's event rate (over: 429 naming ``events``, and none of
them is stored). An unknown site is answered as a foreign origin is, so that
no one learns which site ids exist.
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from engine.flow.derive import Visitor, check_event
from engine.http.bodies import RequestError, error, parse_json, read_body
from engine.http.gateway import allowed_origin
from engine.http.services import services
from engine.store.base import StoreUnavailable
from engine.wire.frames import Event, FrameError, parse_frame
from engine.wire.protocol import valid_visitor_id


async def beacon(request: Request) -> Response:
    found = services(request)
    limits = found.config.limits
    body = await read_body(request, limits.beacon_bytes)
    # Before parsing anything: a refused beacon costs reading its bytes only.
    if not found.connect_limiter.allow(request.client.host if request.client else ""):
        raise RequestError(429, "address", "too many beacons and sockets from this address; "
                           "send later", headers={"Retry-After": "1"})
    data = parse_json(body)
    if not isinstance(data, dict):
        return error(422, "body", "a JSON object with site, visitor and events")
    site = found.sites.get(data.get("site"))  # type: ignore[arg-type]
    if site is None or not allowed_origin(site, request.headers.get("origin")):
        return error(403, "origin", "origin not allowed for this site")
    visitor_id, events = data.get("visitor"), data.get("events")
    if not valid_visitor_id(visitor_id):
        return error(422, "visitor", "a visitor id of 8-64 characters A-Z a-z 0-9 _ -")
    if not isinstance(events, list) or len(events) > limits.event_burst:
        return error(422, "events", f"a list of at most {limits.event_burst} event frames")
    visitor = Visitor(site, visitor_id, request.headers.get("user-agent", ""))
    parsed: list[Event] = []
    for index, frame in enumerate(events):
        try:
            event = parse_frame(frame, limits)
            if not isinstance(event, Event):
                return error(422, f"events[{index}].t", "only event frames")
            check_event(visitor, event)
        except FrameError as exc:
            return error(422, f"events[{index}].{exc.field or 't'}", str(exc))
        parsed.append(event)
    wait = found.visitor_limiter.take(site.config.id, visitor_id, len(parsed))
    if wait:
        raise RequestError(429, "events", f"over {limits.events_per_second:g} events/s "
                           f"(bursts of {limits.event_burst}) for this visitor; send later",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
    try:
        for event in parsed:
            found.metrics.sent(await found.pipeline.handle(visitor, event, found.clock.now()))
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; resend later")
    return Response(status_code=204)
