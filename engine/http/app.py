"""The Starlette application: its routes and the services they share, built
once by ``create_app``; every route is a thin shell over them.

Besides the routes, the app runs two tasks for its lifetime: the per-rule
counters' flush, and the follower of the messages between nodes (rule
versions going live, pushes to this node's sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from engine.delivery.counters import Counters
from engine.flow.pipeline import Pipeline
from engine.forecast.recorder import Recorder
from engine.forecast.service import Budget, Forecasts
from engine.http import (
    admin,
    console,
    demo,
    forecast_api,
    products_api,
    server_api,
    stats_api,
)
from engine.http.beacon import beacon
from engine.http.bodies import RequestError, error, request_error
from engine.http.gateway import serve_socket
from engine.http.services import Services, services
from engine.matcher import implementation, matcher_class
from engine.runtime.clock import Clock, SystemClock
from engine.runtime.config import Config
from engine.runtime.jobs import Jobs
from engine.runtime.logs import quiet_websocket_errors
from engine.runtime.metrics import Metrics
from engine.runtime.shared_metrics import SharedMetrics
from engine.runtime.site import compile_version, load_sites
from engine.runtime.stalls import GcPauses, watch_loop
from engine.runtime.supervisor import Supervisor
from engine.store.base import (
    PUSH_CHANNEL,
    RULES_CHANNEL,
    Store,
    StoreUnavailable,
)
from engine.store.redis import RedisStore
from engine.wire.protocol import BEACON_PATH, WS_PATH, CloseCode
from engine.wire.rates import ConnectLimiter, VisitorLimiter

WIDGET = Path(__file__).parents[1] / "static" / "widget.js"  # built by widgets/ (esbuild)
MEMORY_WARNING = 0.9  # /healthz warns when Redis holds this share of its maxmemory


def create_app(config: Config, redis_url: str | None = None, *, clock: Clock | None = None,
               store: Store | None = None, metrics_dir: Path | None = None) -> Starlette:
    """The engine's app on ``store``, or on the Redis at ``redis_url``; one of
    several workers sharing ``metrics_dir`` (engine/runtime/shared_metrics.py)."""
    if store is None:
        if redis_url is None:
            raise ValueError("create_app needs a store or a Redis URL")
        store = RedisStore(redis_url, profile_ttl=config.profile_ttl)
    cls = matcher_class(config.pure_python)
    metrics = Metrics(matcher=implementation(cls))
    counters = Counters(store, on_refused=metrics.refused)
    recorder = Recorder(store, metrics, limits=config.limits)
    found = Services(config=config, sites=load_sites(config, cls), store=store,
                     clock=clock or SystemClock(), metrics=metrics, counters=counters,
                     pipeline=Pipeline(store, metrics, counters, recorder), matcher_class=cls,
                     connect_limiter=ConnectLimiter(config.limits), recorder=recorder,
                     jobs=Jobs(config.limits, metrics=metrics),
                     visitor_limiter=VisitorLimiter(config.limits),
                     forecasts=Forecasts(store, cls, config.limits.forecasts_per_site,
                                         config.limits.forecast_entries,
                                         store.url if isinstance(store, RedisStore) else None,
                                         Budget.of(config.limits)))
    if metrics_dir is not None:
        found.shared_metrics = SharedMetrics(metrics_dir, metrics, lambda: counters.totals,
                                             lambda: found.store.errors)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_websocket_errors()
        with contextlib.suppress(StoreUnavailable):  # serve the config's rules until it is back
            # The scripts first: else a thousand visitors' first events all
            # meet NOSCRIPT together and wait on one SCRIPT LOAD.
            await found.store.prepare()
            await load_active_versions(found, wait=True)
        stop = asyncio.Event()
        supervisor = found.supervisor = Supervisor(metrics, stop)
        # Every (re)subscribe reads the active versions again: no announcement
        # is lost between a subscription and the next.
        supervisor.start("follower", lambda: found.store.broker.follow(
            functools.partial(announced, found), functools.partial(load_active_versions, found),
            stop))
        supervisor.start("counters", lambda: counters.run(stop))
        supervisor.start("recorder", lambda: recorder.run(stop, found.clock))
        supervisor.start("loop_watch", lambda: watch_loop(metrics, stop))
        if found.shared_metrics is not None:
            sharing = found.shared_metrics
            supervisor.start("shared_metrics", lambda: sharing.run(stop))
        gc_pauses = GcPauses(metrics)
        gc_pauses.install()
        yield
        stop.set()
        gc_pauses.remove()
        await supervisor.close()
        await close_sockets(app)
        await found.store.close()
        await found.jobs.close()

    app = Starlette(routes=[
        *admin.routes(),
        *forecast_api.routes(),
        *server_api.routes(),
        *stats_api.routes(),
        *products_api.routes(),
        *console.routes(),
        *(demo.routes() if config.demo else []),
        WebSocketRoute(WS_PATH, serve_socket),
        Route(BEACON_PATH, beacon, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/metrics", metrics_text),
        Route("/widget.js", widget),
    ], lifespan=lifespan, exception_handlers={RequestError: request_error})
    app.state.services = found
    return app


async def close_sockets(app: Starlette) -> None:
    """Close every websocket with 1012 (service restart: a deploy or a rolling
    restart; the widget reconnects, through the balancer, to another node)."""
    found: Services = app.state.services
    for websocket in list(found.sockets):
        with contextlib.suppress(Exception):
            await websocket.close(code=CloseCode.SERVICE_RESTART)
    await asyncio.sleep(0)


async def load_active_versions(found: Services, wait: bool = False) -> None:
    """An uploaded active version beats the config's rule file. Read at
    start-up, after every (re)subscribe to the announcements and now and then,
    so a node that missed an announcement (storage down) catches up. The
    versions read are compiled in job workers, the sites serving their current
    rules meanwhile; with ``wait`` (at start-up) this returns once they are
    live, else at once: the follower that calls it goes on delivering pushes
    and announcements during a compile. Raises StoreUnavailable."""
    found.jobs.warm()  # a worker ready for the first upload or check
    versions = found.store.versions
    loading = []
    for site in found.sites.values():
        asked = site.asked
        version = await versions.active(site.config.id)
        source = await versions.source(site.config.id, version) if version else None
        # A version asked for while this one was read (an upload here) is newer.
        if version and source and site.asked == asked:
            task = site.activate(version, functools.partial(
                compile_version, found.jobs, site, version, source, found.matcher_class))
            if task is not None:
                loading.append(task)
    if wait and loading:  # a build that fails is logged by the site; the rest go on
        await asyncio.wait(loading)


async def announced(found: Services, channel: str, data: str) -> None:
    """A message from another node (or this one) between nodes. A rule version
    is compiled in a job's worker while the follower goes on with the next
    messages; the last one announced wins (``LiveSite.activate``)."""
    if channel == RULES_CHANNEL:
        site_id, _, version = data.partition(" ")
        site = found.sites.get(site_id)
        if site is None:
            return
        source = await found.store.versions.source(site_id, version)
        if source is not None:
            site.activate(version, functools.partial(
                compile_version, found.jobs, site, version, source, found.matcher_class))
    elif channel == PUSH_CHANNEL:
        message = json.loads(data)
        found.registry.push(message["site"], message["profile"], message["frames"])


async def healthz(request: Request) -> Response:
    """Whether this node can serve (the HTTP status, for a load balancer: 503
    while its Redis cannot be reached) and whether all of it works (``status``,
    for whoever watches it: ``degraded`` while Redis is away or a supervised
    task fails, ``warning`` when Redis is near its memory limit)."""
    found = services(request)
    redis_ok = await found.store.ping()
    supervisor = found.supervisor
    failing = supervisor.failing() if supervisor is not None else []
    body: dict[str, Any] = {"redis": redis_ok, "matcher": found.metrics.matcher,
                            "connections": found.metrics.connections}
    warnings = []
    if redis_ok:
        with contextlib.suppress(StoreUnavailable):
            memory = await found.store.memory()
            if memory is not None and memory.maxmemory:
                share = memory.used / memory.maxmemory
                body["redis_memory"] = {"used": memory.used, "max": memory.maxmemory,
                                        "share": round(share, 3), "policy": memory.policy}
                if share >= MEMORY_WARNING:
                    warnings.append(f"Redis holds {share:.0%} of its maxmemory "
                                    f"({memory.policy}; docs/storage.md)")
    if failing:
        warnings += [f"task {name} is failing" for name in failing]
    if supervisor is not None:
        body["tasks"] = supervisor.health()
    body["status"] = "degraded" if not redis_ok or failing else "warning" if warnings else "ok"
    if warnings:
        body["warnings"] = warnings
    return JSONResponse(body, status_code=200 if redis_ok else 503)


async def metrics_text(request: Request) -> Response:
    """The operator's figures. They name every site and rule: with a
    ``metrics_token_sha256`` in the config they are served to callers with
    that token, without one only to clients on this machine's loopback."""
    found = services(request)
    config = found.config
    if config.metrics_token_sha256:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not config.metrics_token_ok(token):
            raise RequestError(401, "authorization", "/metrics needs Authorization: Bearer "
                               "METRICS_TOKEN", headers={"WWW-Authenticate": "Bearer"})
    elif not _loopback(request):
        return error(403, "address", "/metrics answers clients on this machine only; set "
                     "[server] metrics_token_sha256 to scrape it from elsewhere (docs/scale.md)")
    if found.shared_metrics is not None:  # the sum of every worker's figures
        merged, totals, errors = found.shared_metrics.merged()
        text = merged.render(totals, errors)
    else:
        text = found.metrics.render(found.counters.totals, found.store.errors)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def app_from_environment() -> Starlette:
    """Factory for worker processes (``ondo serve --workers N``): the parent
    resolved the configuration and the Redis URL and passes them down."""
    from engine.matcher import pure_requested
    from engine.runtime.config import load_config
    from engine.runtime.serving import tune_gc

    overrides: dict[str, Any] = json.loads(os.environ.get("ONDO_OVERRIDES", "{}"))
    config = load_config(Path(os.environ["ONDO_CONFIG"]), pure_python=pure_requested(),
                         **overrides)
    shared = os.environ.get("ONDO_METRICS_DIR")
    app = create_app(config, config.redis_url, metrics_dir=Path(shared) if shared else None)
    tune_gc()
    return app
