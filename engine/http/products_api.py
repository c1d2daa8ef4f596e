"""``PUT /v1/sites/{site}/products``: the shop's product feed, JSON lines or
CSV (engine/flow/feed.py), read whole and checked before it replaces the
previous feed at once; ``GET`` says which feed is in use. Admin token or
console session (engine/http/auth.py).

A feed with a bad line changes nothing: 422 with every bad line (up to 50),
each ``{"line", "field", "message"}``; a body over ``Limits.feed_bytes`` 413.
It is read in a job's worker, never on the event loop, within the site's job
limits (``jobs_per_site``: 429, ``job_seconds``: 422, ``job_memory``: 413).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.flow.feed import FeedError, parse_feed
from engine.http.admin import admin_endpoint, in_worker
from engine.http.bodies import error, read_body
from engine.http.services import Services
from engine.runtime.site import LiveSite
from engine.store.base import Feed


def _feed_json(feed: Feed) -> dict[str, object]:
    return {"version": feed.version, "products": feed.products, "updated_at": feed.updated_at}


@admin_endpoint
async def put_products(request: Request, site: LiveSite, found: Services) -> Response:
    body = await read_body(request, found.config.limits.feed_bytes)
    try:
        # A feed of 100,000 lines takes seconds to read: in a job's worker,
        # within the site's job limits (engine/http/admin.py).
        products = await in_worker(request, site, "the product feed", parse_feed, body,
                                   request.headers.get("content-type", ""),
                                   found.config.limits.max_amount)
    except FeedError as exc:
        first = exc.problems[0]
        return JSONResponse({"error": f"the feed has errors; nothing was changed ({exc})",
                             "field": first.field, "line": first.line,
                             "problems": [p.as_json() for p in exc.problems]}, status_code=422)
    feed = await found.store.catalog.replace(site.config.id, products, found.clock.now())
    return JSONResponse(_feed_json(feed))


@admin_endpoint
async def get_products(request: Request, site: LiveSite, found: Services) -> Response:
    feed = await found.store.catalog.feed(site.config.id)
    if feed is None:
        return error(404, "products", "no product feed has been uploaded for this site")
    return JSONResponse(_feed_json(feed))


def routes() -> list[Route]:
    return [Route("/v1/sites/{site}/products", put_products, methods=["PUT"]),
            Route("/v1/sites/{site}/products", get_products, methods=["GET"])]
