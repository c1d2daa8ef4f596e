"""The demo storefront (``/demo``) and its two server endpoints, mounted only
when the engine is asked for the demo (``ondo serve --demo``, which
``./scripts/run`` passes, or ``[server] demo = true``): ``POST /demo/login``
signs a demo member's identity as a shop's server would, ``POST
/demo/checkout`` posts the purchase through the server-to-server events path.
Pages are served under a strict CSP, the same one a careful shop would use, to
show the widget works under it."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.flow.identity import sign_member
from engine.flow.server_events import EventError, parse_event
from engine.http.bodies import error, read_object
from engine.http.services import services
from engine.runtime.config import DEMO_SITE
from engine.store.base import StoreUnavailable

PAGES = Path(__file__).parents[1] / "static" / "demo"
SITE = DEMO_SITE
DEMO_BODY = 64 * 1024  # a demo login or cart
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}


async def page(request: Request) -> Response:
    name = request.path_params.get("name") or "index.html"
    path = PAGES / name
    if "/" in name or path.suffix not in _TYPES or not path.is_file():
        return error(404, "path", "no such demo page")
    return FileResponse(path, media_type=_TYPES[path.suffix],
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


async def login(request: Request) -> Response:
    member = (await read_object(request, DEMO_BODY, "a member_id")).get("member_id")
    if not isinstance(member, str) or not 0 < len(member) <= 64:
        return error(422, "member_id", "a member id of 1-64 characters")
    site = services(request).sites[SITE]
    return JSONResponse({"member_id": member, "signature": sign_member(site.config.secret,
                                                                       member)})


async def checkout(request: Request) -> Response:
    data = await read_object(request, DEMO_BODY, "the cart's items")
    if not isinstance(data.get("items"), list):
        return error(422, "items", "the cart's items")
    try:
        amount = sum(int(i.get("qty", 1)) * int(i.get("price", 0)) for i in data["items"]
                     if isinstance(i, dict))
    except (TypeError, ValueError, OverflowError):
        return error(422, "items", "each item's qty and price are whole numbers")
    order_id = "D-" + secrets.token_hex(4).upper()
    raw = {"type": "purchase", "order_id": order_id, "amount": amount, "items": data["items"]}
    if isinstance(data.get("member_id"), str):
        raw["member_id"] = data["member_id"]
    else:
        raw["visitor_id"] = data.get("visitor_id")
    try:
        event = parse_event(raw, 0)
    except EventError as exc:
        return error(422, exc.field, str(exc))
    found = services(request)
    try:
        await found.pipeline.apply_server_event(found.sites[SITE], event, found.clock.now())
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; try again")
    return JSONResponse({"order_id": order_id, "amount": amount})


def routes() -> list[Route]:
    return [
        Route("/demo", lambda request: RedirectResponse("/demo/")),
        Route("/demo/", page),
        Route("/demo/login", login, methods=["POST"]),
        Route("/demo/checkout", checkout, methods=["POST"]),
        Route("/demo/{name}", page),
    ]
