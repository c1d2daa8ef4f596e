"""Request bodies read within a limit, JSON parsed safely, and errors answered
as JSON ``{"error", "field", ...}``: the one way every HTTP route does these.

A body is read in the pieces the server hands over and refused with 413 as
soon as it passes its limit, whether it declared a ``Content-Length`` or came
chunked: a client cannot make the engine hold more than the limit. JSON goes
through orjson, which refuses nesting past 1,024 levels with an ordinary
error, so no body can reach Python's recursion limit.

A client that goes away before sending its whole body (a closed tab, a dropped
network, a scanner) is ordinary: one ``info`` line naming the route, never a
traceback a client could repeat to flood the log.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("ondo.http")


class RequestError(Exception):
    """A request the engine refuses: the status and the field at fault."""

    def __init__(self, status: int, field: str, message: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        self.status, self.field, self.message, self.extra = status, field, message, extra
        self.headers = headers
        super().__init__(message)

    def response(self) -> JSONResponse:
        response = error(self.status, self.field, self.message, **self.extra)
        response.headers.update(self.headers or {})
        return response


def error(status: int, field: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "field": field, **extra}, status_code=status)


async def request_error(request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for ``RequestError``."""
    if not isinstance(exc, RequestError):
        raise exc
    return exc.response()


def too_large(limit: int) -> RequestError:
    # Connection: close, or the server would go on reading the rest of the
    # body to throw it away: a client could still make it receive gigabytes.
    return RequestError(413, "body", f"the body is over {limit:,} bytes",
                        headers={"Connection": "close"})


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise RequestError(400, "Content-Length", "not a number of bytes")
        if int(length) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        log.info("%s %s: the client went away after %d bytes of its body", request.method,
                 request.url.path, size)
        # Nobody reads this answer; it ends the request as a refusal, not a crash.
        raise RequestError(400, "body", "the client went away before sending its whole "
                           "body") from None
    return b"".join(chunks)


def parse_json(body: bytes, field: str = "body") -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, field, f"not valid JSON: {exc.msg}") from None


async def read_json(request: Request, limit: int, *, empty: Any = None) -> Any:
    """The JSON body; ``empty`` stands for an empty body when given."""
    body = await read_body(request, limit)
    if not body.strip() and empty is not None:
        return empty
    return parse_json(body)


async def read_object(request: Request, limit: int, what: str, *, empty: bool = False
                      ) -> dict[str, Any]:
    """A JSON object body; ``what`` says in the error what it should hold."""
    data = await read_json(request, limit, empty={} if empty else None)
    if not isinstance(data, dict):
        raise RequestError(422, "body", f"a JSON object with {what}")
    return data
