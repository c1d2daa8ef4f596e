"""Server-to-server request signatures.

A shop's backend signs each request to ``/v1/sites/{site}/events``::

    X-Ondo-Timestamp: 1795000000                      (unix seconds)
    X-Ondo-Signature: hex(HMAC-SHA256(site_secret, f"{timestamp}.{body}"))

Requests older (or newer) than five minutes are refused, so a captured request
cannot be replayed later; within the window, event ids make replays harmless.
A timestamp is whole seconds in ASCII digits, nothing else: ``nan``, ``inf``,
``1e9``, `` 123`` or ``+123`` would each read as a number in some parser, and
``nan`` compares as fresh forever.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_SKEW = 300
# Whole seconds, at most 12 digits (the year 33658): no sign, space, point,
# exponent or letters.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str | None, timestamp: str | None, signature: str | None, body: bytes,
           now: float) -> None:
    """Raises SignatureError naming the header at fault. A site with no secret
    (``None``: the site does not exist) is refused exactly as a wrong signature
    is, after the same checks, so a caller who cannot sign cannot tell which
    sites exist."""
    if not timestamp:
        raise SignatureError("X-Ondo-Timestamp", "missing X-Ondo-Timestamp header")
    if not signature:
        raise SignatureError("X-Ondo-Signature", "missing X-Ondo-Signature header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("X-Ondo-Timestamp", "not a unix time in whole seconds "
                             "(ASCII digits only, like 1795000000)")
    if abs(now - int(timestamp)) > MAX_SKEW:
        raise SignatureError("X-Ondo-Timestamp", "request older than 5 minutes (or from the "
                             "future): sign it again with the current time")
    expected = sign(secret or "", timestamp, body).encode()  # either way: the same time
    # As bytes: compare_digest refuses a str with a non-ASCII character.
    given = signature.strip().lower().encode("utf-8", "replace")
    if secret is None or not hmac.compare_digest(expected, given):
        raise SignatureError("X-Ondo-Signature", "signature does not match the body")
