"""Server-to-server request signatures.

A shop's backend signs each request to ``/v1/sites/{site}/events``::

    X-Ondo-Timestamp: 1795000000                      (unix seconds)
    X-Ondo-Signature: hex(HMAC-SHA256(site_secret, f"{timestamp}.{body}"))

Requests older (or newer) than five minutes are refused, so a captured request
cannot be replayed later; within the window, event ids make replays harmless.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SKEW = 300.0


class SignatureError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes,
           now: float) -> None:
    if not timestamp:
        raise SignatureError("X-Ondo-Timestamp", "missing X-Ondo-Timestamp header")
    if not signature:
        raise SignatureError("X-Ondo-Signature", "missing X-Ondo-Signature header")
    try:
        when = float(timestamp)
    except ValueError:
        raise SignatureError("X-Ondo-Timestamp", "not a unix time in seconds") from None
    if abs(now - when) > MAX_SKEW:
        raise SignatureError("X-Ondo-Timestamp", "request older than 5 minutes (or from the "
                             "future): sign it again with the current time")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        raise SignatureError("X-Ondo-Signature", "signature does not match the body")
