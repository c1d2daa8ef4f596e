"""``POST /v1/beacon``: the widget's last events when a page hides or unloads
(``navigator.sendBeacon``), ``{"site", "visitor", "events": [event frames]}``.
The same checks as the socket (origin, visitor id, frames, reports), all of
them before any event is stored; the same pipeline. No actions come back."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from engine.flow.derive import Visitor, check_event
from engine.http.bodies import error, read_object
from engine.http.gateway import allowed_origin
from engine.http.services import services
from engine.store.base import StoreUnavailable
from engine.wire.frames import Event, FrameError, parse_frame
from engine.wire.protocol import valid_visitor_id


async def beacon(request: Request) -> Response:
    found = services(request)
    limits = found.config.limits
    data = await read_object(request, limits.beacon_bytes, "site, visitor and events")
    site = found.sites.get(data.get("site"))  # type: ignore[arg-type]
    if site is None:
        return error(404, "site", "unknown site")
    if not allowed_origin(site, request.headers.get("origin")):
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
    try:
        for event in parsed:
            found.metrics.sent(await found.pipeline.handle(visitor, event, found.clock.now()))
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; resend later")
    return Response(status_code=204)
