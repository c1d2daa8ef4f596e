"""The Starlette application: routes and the objects they share, built once.

``create_app(config)`` wires the store, the compiled rulesets, the metrics and
the clock; every route is a thin shell over them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

import rules
from engine.delivery.counters import Counters
from engine.flow.pipeline import EventFlow, Visitor, check_event
from engine.http import admin, demo
from engine.http.bodies import RequestError, error, read_object, request_error
from engine.http.gateway import ConnectLimiter, Registry, allowed_origin, serve_socket
from engine.matcher import MatcherLike, implementation, matcher_class
from engine.runtime.clock import Clock, SystemClock
from engine.runtime.config import Config
from engine.runtime.logs import quiet_websocket_errors
from engine.runtime.metrics import Metrics
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import Store, StoreUnavailable
from engine.store.redis import RedisStore
from engine.store.versions import CHANNEL, PUSH_CHANNEL, Versions, follow, source_version
from engine.wire.frames import Event, FrameError, parse_frame
from engine.wire.protocol import BEACON_PATH, WS_PATH, CloseCode, valid_visitor_id

WIDGET = Path(__file__).parents[1] / "static" / "widget.js"  # built by widgets/ (esbuild)


def load_sites(config: Config, cls: type[MatcherLike]) -> dict[str, LiveSite]:
    sites = {}
    for site_id, site in config.sites.items():
        active = None
        if site.rules:
            source = Path(site.rules).read_text(encoding="utf-8")
            # RuleFileError stops start-up, with positions.
            ruleset = rules.load(source, name=site.rules)
            active = ActiveRules.build(ruleset, cls, source_version(source))
        sites[site_id] = LiveSite(site, active)
    return sites


def create_app(config: Config, redis_url: str, *, clock: Clock | None = None,
               store: Store | None = None) -> Starlette:
    cls = matcher_class(config.pure_python)
    metrics = Metrics(matcher=implementation(cls))
    store = store or RedisStore(redis_url, profile_ttl=config.profile_ttl)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_websocket_errors()
        await load_active_versions(app)
        stop = asyncio.Event()
        # Subscribed first, then the active versions read (and read again after
        # every resubscribe, and now and then): no announcement falls between.
        follower = asyncio.create_task(follow(redis_url, functools.partial(announced, app),
                                              functools.partial(load_active_versions, app),
                                              stop))
        flusher = asyncio.create_task(app.state.counters.run(stop))
        yield
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(flusher, timeout=2)
        await close_sockets(app)
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(follower, timeout=2)
        await app.state.versions.client.aclose()
        await store.close()

    app = Starlette(routes=[
        *admin.routes(),
        *(demo.routes() if config.demo else []),
        WebSocketRoute(WS_PATH, ws),
        Route(BEACON_PATH, beacon, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/metrics", metrics_text),
        Route("/widget.js", widget),
    ], lifespan=lifespan, exception_handlers={RequestError: request_error})
    app.state.config = config
    app.state.sites = load_sites(config, cls)
    app.state.store = store
    app.state.metrics = metrics
    app.state.clock = clock or SystemClock()
    app.state.counters = Counters(store)
    app.state.flow = EventFlow(store, metrics, app.state.counters)
    app.state.connections = set()
    app.state.registry = Registry()
    app.state.connect_limiter = ConnectLimiter(config.limits)
    app.state.matcher_class = cls
    app.state.versions = Versions(redis.Redis.from_url(redis_url, socket_connect_timeout=1.0))
    return app


async def close_sockets(app: Any) -> None:
    """Close every websocket with 1001 (going away: reconnect elsewhere)."""
    state = getattr(app, "state", None)
    for websocket in list(getattr(state, "connections", ())):
        with contextlib.suppress(Exception):
            await websocket.close(code=CloseCode.GOING_AWAY)
    await asyncio.sleep(0)


async def load_active_versions(app: Starlette) -> None:
    """An uploaded active version beats the config's rule file. Read at
    start-up, after every (re)subscribe to the announcements and now and then,
    so a node that missed an announcement (Redis down) catches up."""
    for site in app.state.sites.values():
        try:
            version = await app.state.versions.active(site.config.id)
            source = await app.state.versions.source(site.config.id, version) if version else None
        except (RedisError, OSError):
            return  # Redis is down: serve the config's rules; pub/sub catches up later
        if version and source:
            await admin.swap(app, site, version, source)


async def announced(app: Starlette, channel: str, data: str) -> None:
    """A message from another node (or this one) on the pub/sub channels."""
    if channel == CHANNEL:
        site_id, _, version = data.partition(" ")
        site = app.state.sites.get(site_id)
        if site is None:
            return
        source = await app.state.versions.source(site_id, version)
        if source is not None:
            await admin.swap(app, site, version, source)
    elif channel == PUSH_CHANNEL:
        message = json.loads(data)
        app.state.registry.push(message["site"], message["profile"], message["frames"])


async def ws(websocket: WebSocket) -> None:
    await serve_socket(websocket)


async def healthz(request: Request) -> Response:
    state = request.app.state
    redis_ok = await state.store.ping()
    body = {"status": "ok" if redis_ok else "degraded", "redis": redis_ok,
            "matcher": state.metrics.matcher, "connections": state.metrics.connections}
    return JSONResponse(body, status_code=200 if redis_ok else 503)


async def metrics_text(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    metrics.redis_errors = max(metrics.redis_errors, getattr(request.app.state.store, "errors", 0))
    return PlainTextResponse(metrics.render(request.app.state.counters.totals),
                             media_type="text/plain; version=0.0.4")


async def widget(request: Request) -> Response:
    if not WIDGET.is_file():
        return JSONResponse({"error": "widget not built", "hint": "cd widgets && npm run build"},
                            status_code=404)
    body = WIDGET.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/javascript; charset=utf-8",
                    headers={"ETag": etag, "Cache-Control": "public, max-age=300"})


async def beacon(request: Request) -> Response:
    """The widget's last events when a page hides or unloads (sendBeacon):
    ``{"site", "visitor", "events": [event frames]}``. No actions come back.
    Every event is checked before any is stored: all or nothing."""
    state = request.app.state
    limits = state.config.limits
    data = await read_object(request, limits.beacon_bytes, "site, visitor and events")
    site = state.sites.get(data.get("site"))
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
            await state.flow.handle(visitor, event, state.clock.now())
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; resend later")
    return Response(status_code=204)


def tune_gc() -> None:
    """The cyclic GC settings of a serving process (each worker's too)."""
    gc.freeze()  # start-up objects never die: keep them out of the cyclic GC's way
    # An event allocates a few hundred short-lived objects that die with it
    # (reference counting frees them); a young generation of 700 made the
    # cyclic GC walk them anyway, ~7% of the engine's time under load. Much
    # larger, and each collection walks the state of a thousand events in
    # flight at once: 10,000 keeps a young collection near 2 ms.
    gc.set_threshold(10_000, 10, 10)


def uvicorn_options(config: Config) -> dict[str, Any]:
    """How uvicorn serves the engine: ``ondo serve`` and the tests alike."""
    limits = config.limits
    return {"ws": "websockets-sansio", "ws_max_size": limits.max_frame_bytes,
            "ws_ping_interval": limits.ping_interval, "ws_ping_timeout": limits.ping_timeout,
            "ws_per_message_deflate": False, "log_level": "warning",
            "timeout_graceful_shutdown": 5,
            # Client addresses (the per-address connect limit) from X-Forwarded-For
            # of these proxies only: a load balancer on another host must be named.
            "proxy_headers": True, "forwarded_allow_ips": config.forwarded_allow_ips}


def app_from_environment() -> Starlette:
    """Factory for worker processes (``ondo serve --workers N``): the parent
    resolved the configuration and the Redis URL and passes them down."""
    from engine.matcher import pure_requested
    from engine.runtime.config import load_config

    overrides = json.loads(os.environ.get("ONDO_OVERRIDES", "{}"))
    config = load_config(Path(os.environ["ONDO_CONFIG"]), pure_python=pure_requested(),
                         **overrides)
    app = create_app(config, config.redis_url or "")
    tune_gc()
    return app
