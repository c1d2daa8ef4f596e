"""The demo storefront (``/demo``) and its two server endpoints, mounted only
for the ``demo-shop`` site: ``POST /demo/login`` signs a demo member's identity
as a shop's server would, ``POST /demo/checkout`` posts the purchase through the
server-to-server events path. Pages are served under a strict CSP, the same
one a careful shop would use, to show the widget works under it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.admin import apply_server_events, error
from engine.identity import sign_member
from engine.server_events import EventError, parse_event

PAGES = Path(__file__).with_name("static") / "demo"
SITE = "demo-shop"
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
    try:
        member = json.loads(await request.body()).get("member_id")
    except (ValueError, AttributeError):
        member = None
    if not isinstance(member, str) or not 0 < len(member) <= 64:
        return error(422, "member_id", "a member id of 1-64 characters")
    site = request.app.state.sites[SITE]
    return JSONResponse({"member_id": member, "signature": sign_member(site.config.secret,
                                                                       member)})


async def checkout(request: Request) -> Response:
    try:
        data = json.loads(await request.body())
    except ValueError:
        return error(422, "body", "not valid JSON")
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return error(422, "items", "the cart's items")
    amount = sum(int(i.get("qty", 1)) * int(i.get("price", 0)) for i in data["items"]
                 if isinstance(i, dict))
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
    reply = await apply_server_events(request.app, request.app.state.sites[SITE], [event])
    if reply.status_code != 200:
        return reply
    return JSONResponse({"order_id": order_id, "amount": amount})


def routes() -> list[Route]:
    return [
        Route("/demo", lambda request: RedirectResponse("/demo/index.html")),
        Route("/demo/login", login, methods=["POST"]),
        Route("/demo/checkout", checkout, methods=["POST"]),
        Route("/demo/{name}", page),
    ]
