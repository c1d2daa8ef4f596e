"""Log hygiene: what a client can make the engine log, it logs in one line.

uvicorn logs a client's invalid UTF-8 text frame as an error with a
traceback; a client sending many would fill the log with tracebacks of an
ordinary, handled event (the socket is closed with 1007, docs/protocol.md).
"""

from __future__ import annotations

import logging

_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."


class OneLineClientErrors(logging.Filter):
    """Turns uvicorn's traceback for an invalid UTF-8 frame into one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _INVALID_UTF8 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
            record.msg = "invalid UTF-8 in a text frame: the socket is closed with 1007"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_websocket_errors() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, OneLineClientErrors) for f in logger.filters):
        logger.addFilter(OneLineClientErrors())
