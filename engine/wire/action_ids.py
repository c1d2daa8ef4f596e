"""Action ids that prove an action was sent to the visitor reporting on it.

The widget reports what became of each action (``shown``, ``clicked``,
``closed``) and those reports feed the per-rule statistics and the caps. A
report is counted only when its action id is one the engine made for that
visitor and that rule: ``NONCE.MAC``, where the nonce names the action (its
event and rule) and the MAC, keyed by a key derived from the site's secret,
binds the nonce to the rule and to the visitor id of the widget it was sent
to. Every node derives the same key, so a report may arrive on another node,
after a reconnect, or by beacon.

The delivery policy makes the nonce (pure, keyless); the frame that leaves
for a socket carries the id signed for that socket's visitor, so an action
pushed to all the devices of a member gets a different id on each.
"""

from __future__ import annotations

import hashlib
import hmac

from engine.wire.protocol import Frame

NONCE_BYTES = 6
MAC_BYTES = 10


def action_key(site_secret: str) -> bytes:
    """The site's key for action ids, apart from its member and event signatures."""
    return hmac.new(site_secret.encode(), b"ondo action ids v1", hashlib.sha256).digest()


def nonce(event_id: str, rule: str) -> str:
    return hashlib.blake2b(f"{event_id}\x00{rule}".encode(),
                           digest_size=NONCE_BYTES).hexdigest()


def _mac(key: bytes, recipient: str, rule: str, action_nonce: str) -> str:
    return hashlib.blake2b(f"{recipient}\x00{rule}\x00{action_nonce}".encode(), key=key,
                           digest_size=MAC_BYTES).hexdigest()


def sign(key: bytes, recipient: str, rule: str, action_nonce: str) -> str:
    return f"{action_nonce}.{_mac(key, recipient, rule, action_nonce)}"


def verify(key: bytes, recipient: str, rule: str, action_id: str) -> bool:
    action_nonce, _, mac = action_id.partition(".")
    if len(action_nonce) != 2 * NONCE_BYTES or len(mac) != 2 * MAC_BYTES:
        return False
    return hmac.compare_digest(_mac(key, recipient, rule, action_nonce), mac)


def signed_frame(frame: Frame, key: bytes, recipient: str) -> Frame:
    """An action frame whose ``id`` is a nonce, with the id signed for ``recipient``."""
    return {**frame, "id": sign(key, recipient, frame["rule"], frame["id"])}
