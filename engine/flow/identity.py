"""Member identity: a member id counts only with the shop server's signature,
``hex(HMAC-SHA256(site_secret, member_id))``, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def sign_member(site_secret: str, member_id: str) -> str:
    return hmac.new(site_secret.encode(), member_id.encode(), hashlib.sha256).hexdigest()


def verify_member(site_secret: str, member_id: str, signature: str) -> bool:
    return hmac.compare_digest(sign_member(site_secret, member_id), signature.lower())
