"""``POST /v1/sites/{site}/rules/forecast``: what a draft rule file would have
done to the traffic recorded over a window (docs/forecast.md).

The body is the draft's text, as for an upload; ``since`` (default 24h) and
``until`` (default now) in the query. The answer is the forecast as JSON, or
with ``progress=1`` a stream of JSON lines: ``{"progress": {stage, done,
total}}`` while it runs, then ``{"forecast": …}`` or ``{"error": …}``.

A caller that goes away cancels its forecast, either way: the worker is
killed at once and the site's slot is free again (Starlette would let a
plain handler run on after a disconnect, so the request's ``receive`` is
watched for ``http.disconnect`` meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.forecast.service import ForecastError, OutsideRecording, WorkerFailed
from engine.forecast.window import BadWhen, when
from engine.http.admin import admin_endpoint, rule_file
from engine.http.bodies import error
from engine.http.disconnect import ClientGone, while_there
from engine.http.services import Services
from engine.runtime.site import LiveSite
from engine.store.base import StoreUnavailable

log = logging.getLogger("ondo.forecast")
T = TypeVar("T")
GONE = 499  # the status of an answer nobody is left to read (nginx's "client closed")


def _failure(exc: Exception) -> tuple[int, dict[str, Any]]:
    if isinstance(exc, OutsideRecording):  # what is available, for the console to offer
        return exc.status, {"error": str(exc), "field": exc.field,
                            "recording": exc.recording.as_json()}
    if isinstance(exc, ForecastError):
        limit = {"limit": exc.limit_name} if exc.limit_name else {}  # which limit was met
        return exc.status, {"error": str(exc), "field": exc.field, **limit}
    if isinstance(exc, StoreUnavailable):
        return 503, {"error": "storage unavailable; try again", "field": "storage"}
    log.error("a forecast failed: %s", exc, exc_info=not isinstance(exc, WorkerFailed))
    return 500, {"error": "the forecast failed; the engine's log says why", "field": "body"}


@admin_endpoint
async def forecast(request: Request, site: LiveSite, found: Services) -> Response:
    source, _, _ = await rule_file(request, site, "the draft")
    now = found.clock.now()
    window: dict[str, float] = {}
    for name, default in (("since", "24h"), ("until", "0m")):
        try:
            window[name] = when(request.query_params.get(name, default), now, site.config.tz)
        except BadWhen as exc:
            return error(422, name, str(exc))
    if window["since"] >= window["until"]:
        return error(422, "since", "since must be before until")
    await found.recorder.flush(now)  # this node's latest traffic is part of the window
    run = found.forecasts.run
    site_id = site.config.id
    if request.query_params.get("progress") not in ("1", "true"):
        try:
            result = await while_there(request, run(site, source, window["since"],
                                                    window["until"]))
        except ClientGone:
            log.info("a forecast of %s was cancelled: its caller went away", site_id)
            return error(GONE, "body", "the forecast was cancelled: its caller went away")
        except Exception as exc:  # typed ones are the caller's; the rest logged, a 500
            status, answer = _failure(exc)
            return JSONResponse(answer, status_code=status)
        return JSONResponse(result)
    if found.forecasts.running.get(site_id, 0) >= found.forecasts.per_site:
        # Refused before the stream starts, with the status it deserves.
        status, answer = _failure(found.forecasts.busy())
        return JSONResponse(answer, status_code=status)

    async def lines() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def progress(stage: str, done: int, total: int) -> None:
            queue.put_nowait({"progress": {"stage": stage, "done": done, "total": total}})

        async def running() -> None:
            try:
                result = await while_there(request, run(site, source, window["since"],
                                                        window["until"], progress))
                queue.put_nowait({"forecast": result})
            except ClientGone:
                log.info("a forecast of %s was cancelled: its caller went away", site_id)
                queue.put_nowait(None)
            except Exception as exc:  # the stream always ends with an answer
                status, answer = _failure(exc)
                queue.put_nowait({**answer, "status": status})

        task = asyncio.create_task(running())
        try:
            while (item := await queue.get()) is not None:
                yield orjson.dumps(item) + b"\n"
                if "progress" not in item:
                    return
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def routes() -> list[Route]:
    return [Route("/v1/sites/{site}/rules/forecast", forecast, methods=["POST"])]
