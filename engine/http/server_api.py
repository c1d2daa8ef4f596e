"""``POST /v1/sites/{site}/events``: orders, members, coupons and cart resets
from the shop's server, HMAC-signed with a timestamp (engine/flow/signing.py),
validated (engine/flow/server_events.py), each applied once through the
pipeline, which pushes the actions they cause."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.flow.server_events import EventError, parse_batch
from engine.flow.signing import SignatureError, verify
from engine.http.bodies import error, parse_json, read_body
from engine.http.services import services
from engine.store.base import Applied, StoreUnavailable


async def post_events(request: Request) -> Response:
    found = services(request)
    # An unknown site is answered as a known one is to a wrong signature: the
    # same body limit, the same checks, the same 401; nobody learns which
    # sites exist without a site's secret.
    site = found.sites.get(request.path_params["site"])
    body = await read_body(request, found.config.limits.api_body_bytes)
    try:
        verify(site.config.secret if site is not None else None,
               request.headers.get("x-ondo-timestamp"), request.headers.get("x-ondo-signature"),
               body, time.time())
    except SignatureError as exc:
        found.metrics.errors["bad_signature"] += 1
        return error(401, exc.field, str(exc))
    if site is None:  # verify refuses every signature without a secret
        return error(401, "X-Ondo-Signature", "signature does not match the body")
    try:
        events = parse_batch(parse_json(body), found.config.limits)
    except EventError as exc:
        return error(422, exc.field, str(exc))
    now = found.clock.now()
    done: list[dict[str, str]] = []
    for event in events:  # in order; an answer says how far it got
        try:
            status = await found.pipeline.apply_server_event(site, event, now)
        except StoreUnavailable:
            return error(503, "storage", "storage unavailable; nothing after "
                         f"{event.id!r} was stored, resend the batch", done=done)
        if status is Applied.CONFLICT:
            return error(409, "id", f"event {event.id!r} was already received with other "
                         "content", done=done)
        done.append({"id": event.id, "status": status.value})
    return JSONResponse({"events": done})


def routes() -> list[Route]:
    return [Route("/v1/sites/{site}/events", post_events, methods=["POST"])]
