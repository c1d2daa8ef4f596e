"""A request's work stopped when its client goes away. Starlette lets a plain
handler run on after its client has gone, and heavy work (a rule file checked
in a job's worker, a forecast) would then hold a worker and one of its site's
slots for nobody."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


class ClientGone(Exception):
    """The client went away before the answer; its work was stopped."""


async def gone(request: Request) -> None:
    """Returns once the client has gone (its body was read to the end already:
    the server's next message is the disconnect)."""
    with contextlib.suppress(Exception):  # a connection that cannot be read is gone too
        while (await request.receive())["type"] != "http.disconnect":
            pass


async def while_there(request: Request, work: Awaitable[T]) -> T:
    """The result of ``work``; ClientGone when the client goes away first
    (``work`` is cancelled then, and has ended when this raises)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(gone(request))
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # the client gone, or this request cancelled: the work stops too
        watch.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if watch in done and task.cancelled():
        raise ClientGone
    return task.result()
