"""The marketer's console at ``/admin/``: the page shell, its bundle (built
from console/ by esbuild) and the sign-in session.

Sign-in takes the site's admin token once; the answer sets an HttpOnly,
SameSite=Strict cookie (Secure over https) naming a session the store keeps
for ``Limits.console_session`` seconds, and gives the page the session's CSRF
token, which every write sends back (engine/http/auth.py). The token itself is
never stored by the page nor put in a URL. Attempts are counted per client
address in the store, so every engine node shares the limit.

The page runs under a strict Content Security Policy: scripts only from the
engine, styles from the engine or carrying the page's nonce (the code editor
injects its styles with it), images also over https (a preview shows the
shop's), no framing.
"""

from __future__ import annotations

import hmac
import math
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.http.auth import COOKIE, CSRF_HEADER, console_session, session_key, token_fingerprint
from engine.http.bodies import RequestError, error, read_object
from engine.http.services import services
from engine.store.base import ConsoleSession, StoreUnavailable
from engine.wire.rates import client_key

BUNDLE = Path(__file__).parents[1] / "static" / "console"  # built by console/ (esbuild)
FILES = {"console.js": "application/javascript; charset=utf-8",
         "console.css": "text/css; charset=utf-8"}
SIGNIN_BODY = 4096  # bytes: a site id and a token

SHELL = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csp-nonce" content="{nonce}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Ondo</title>
<link rel="stylesheet" href="/admin/console.css">
<script src="/admin/console.js" defer></script>
</head>
<body>
<main id="ondo-console"></main>
<noscript>{noscript}</noscript>
</body>
</html>
"""
NOSCRIPT = {"ko": "Ondo 콘솔은 자바스크립트가 필요합니다.",
            "en": "The Ondo console needs JavaScript."}


def _policy(nonce: str) -> str:
    return ("default-src 'self'; script-src 'self'; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data: https:; connect-src 'self'; "
            "frame-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'self'")


def _private(response: Response) -> Response:
    response.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"})
    return response


async def page(request: Request) -> Response:
    lang = "en" if request.query_params.get("lang") == "en" else "ko"
    nonce = secrets.token_urlsafe(18)
    html = SHELL.format(lang=lang, nonce=nonce, noscript=NOSCRIPT[lang])
    response = Response(html, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": _policy(nonce)})
    return _private(response)


async def bundle(request: Request) -> Response:
    name = request.path_params["name"]
    path = BUNDLE / name
    if name not in FILES or not path.is_file():
        return JSONResponse({"error": "the console is not built", "field": "path",
                             "hint": "cd console && npm ci && npm run build"}, status_code=404)
    return FileResponse(path, media_type=FILES[name], headers={"Cache-Control": "no-cache"})


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _session_json(session: ConsoleSession, request: Request) -> dict[str, object]:
    site = services(request).sites[session.site]
    return {"site": session.site, "csrf": session.csrf, "expires": session.expires,
            "timezone": site.config.timezone}


async def sign_in(request: Request) -> Response:
    found = services(request)
    limits = found.config.limits
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # A cross-site form cannot send JSON: this refuses login CSRF too.
        return error(415, "content-type", "send the site and token as application/json")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return error(403, "origin", "sign in from the console's own page")
    now = found.clock.now()
    try:
        attempts = await found.store.sessions.attempt(f"ip:{client_key(_address(request))}", now,
                                                      limits.signin_window)
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; try again")
    if attempts > limits.signin_attempts:
        wait = math.ceil(limits.signin_window)
        raise RequestError(429, "token", "too many sign-in attempts; wait and try again",
                           headers={"Retry-After": str(wait)}, retry_after=wait)
    data = await read_object(request, SIGNIN_BODY, "the site and its admin token")
    site_id, token = data.get("site"), data.get("token")
    if not isinstance(site_id, str) or not site_id:
        return error(422, "site", "the site id")
    if not isinstance(token, str) or not token:
        return error(422, "token", "the site's admin token")
    site = found.sites.get(site_id)
    # One answer for an unknown site and a wrong token: sign-in tells nobody
    # which sites exist.
    if site is None or not site.config.admin_token_ok(token):
        return error(401, "token", "wrong site or token")
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = ConsoleSession(site.config.id, csrf, now + limits.console_session,
                             token_fingerprint(site.config))
    try:
        await found.store.sessions.open(session_key(cookie), session, now)
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; try again")
    response = JSONResponse(_session_json(session, request))
    response.set_cookie(COOKIE, cookie, max_age=math.ceil(limits.console_session), path="/",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return _private(response)


async def current(request: Request) -> Response:
    try:
        session = await console_session(request)
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; try again")
    if session is None:
        return _private(error(401, "session", "not signed in"))
    return _private(JSONResponse(_session_json(session, request)))


async def sign_out(request: Request) -> Response:
    try:
        session = await console_session(request)
        if session is not None:
            if not hmac.compare_digest(request.headers.get(CSRF_HEADER, "").encode(),
                                       session.csrf.encode()):
                raise RequestError(403, "csrf", "missing or wrong X-CSRF-Token")
            await services(request).store.sessions.end(session_key(request.cookies[COOKIE]))
    except StoreUnavailable:
        return error(503, "storage", "storage unavailable; try again")
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return _private(response)


def routes() -> list[Route]:
    return [
        Route("/admin", lambda request: RedirectResponse("/admin/")),
        Route("/admin/", page),
        Route("/admin/session", sign_in, methods=["POST"]),
        Route("/admin/session", current, methods=["GET"]),
        Route("/admin/session", sign_out, methods=["DELETE"]),
        Route("/admin/{name}", bundle),
    ]
