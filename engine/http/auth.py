"""Who may call a site's admin API: the site's admin token as a bearer (the
CLI, a shop's scripts), or a console session (engine/http/console.py): its
cookie names a session kept in the store, and every write also carries the
session's CSRF token in ``X-CSRF-Token``.

Missing or wrong credentials -> 401, another site's token or session -> 403,
a write without the CSRF token -> 403 ``{"field": "csrf"}``. A site that does
not exist gets exactly the answer an existing one gives to the same
credentials (no token is a site's that does not exist): an unauthenticated
caller cannot tell which sites exist.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection, Request

from engine.http.bodies import RequestError
from engine.http.services import services
from engine.runtime.config import SiteConfig
from engine.runtime.site import LiveSite
from engine.store.base import ConsoleSession

COOKIE = "ondo_console"
CSRF_HEADER = "x-csrf-token"
READS = frozenset({"GET", "HEAD"})


def session_key(cookie: str) -> str:
    """What the store keeps of a session cookie: its hash, useless to sign in with."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def token_fingerprint(config: SiteConfig) -> str:
    """Changes with the site's admin token: a new token ends every session."""
    return hashlib.sha256(f"console:{config.admin_token_sha256}".encode()).hexdigest()[:24]


async def console_session(request: HTTPConnection) -> ConsoleSession | None:
    """The request's live console session, None when it has none (or it ended,
    expired, or its site's token changed since). Raises StoreUnavailable."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    found = services(request)
    session = await found.store.sessions.find(session_key(cookie), found.clock.now())
    if session is None:
        return None
    site = found.sites.get(session.site)
    if site is None or not hmac.compare_digest(session.token, token_fingerprint(site.config)):
        return None
    return session


async def authorize(request: Request) -> LiveSite:
    """The site of an admin call, once its caller is known to be allowed.
    Raises RequestError, or StoreUnavailable while sessions cannot be read."""
    sites = services(request).sites
    # None: a site that does not exist, refused below as one whose
    # credentials these are not.
    site = sites.get(request.path_params["site"])
    header = request.headers.get("authorization", "")
    if header:
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not token:
            raise RequestError(401, "authorization", "use Authorization: Bearer ADMIN_TOKEN")
        if site is not None and site.config.admin_token_ok(token):
            return site
        if any(s is not site and s.config.admin_token_ok(token) for s in sites.values()):
            raise RequestError(403, "authorization", "this token belongs to another site")
        raise RequestError(401, "authorization", "wrong token")
    if not request.cookies.get(COOKIE):
        raise RequestError(401, "authorization", "missing bearer token")
    session = await console_session(request)
    if session is None:
        raise RequestError(401, "session", "the console session has ended; sign in again")
    if site is None or session.site != site.config.id:
        raise RequestError(403, "session", "this session belongs to another site")
    if request.method not in READS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()):
        raise RequestError(403, "csrf", "missing or wrong X-CSRF-Token")
    return site
