"""Who may call a site's API (engine/http/auth.py), against a real engine: until
a caller is known, no answer tells whether the site in the path exists."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from engine.flow.signing import sign
from engine.runtime.config import Config
from tests.conftest import SECRET, Engine, run_engine, signed, site_config

TOKEN, OTHER_TOKEN = "auth-token-demo", "auth-token-other"
KNOWN, UNKNOWN = "demo-shop", "no-such-shop"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def node(redis_url: str) -> Iterator[Engine]:
    config = Config(sites={
        KNOWN: site_config(admin_token_sha256=sha(TOKEN)),
        "other-shop": site_config(id="other-shop", admin_token_sha256=sha(OTHER_TOKEN),
                                  secret="other-shop-secret-0123456789", rules=None)})
    with run_engine(config, redis_url) as running:
        yield running


def site_routes(engine: Engine) -> list[tuple[str, str]]:
    """(method, path) of every route under /v1/sites/{site}/, read from the app
    itself: a route added later is held to the same promise."""
    found = []
    for route in engine.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/v1/sites/{site}/"):
            path = re.sub(r"\{(?!site\})\w+\}", "v1", route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def answer(http: httpx.Client, method: str, path: str, site: str,
           headers: dict[str, str]) -> tuple[int, object]:
    reply = http.request(method, path.replace("{site}", site), headers=headers,
                         content=b"{}" if method in ("POST", "PUT") else None)
    return reply.status_code, reply.json()


CREDENTIALS = {
    "none": {},
    "a wrong token": {"Authorization": "Bearer not-a-token-of-any-site"},
    "another site's token": {"Authorization": f"Bearer {OTHER_TOKEN}"},
    "not a bearer": {"Authorization": f"Basic {TOKEN}"},
    "a cookie that is no session": {"Cookie": "ondo_console=forged-session-cookie"},
}


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=str)
def test_an_unknown_site_answers_as_a_known_one_does(node: Engine, credentials: str) -> None:
    routes = site_routes(node)
    assert len(routes) >= 14  # rules (9), forecast, stats, live, products (2), events
    with httpx.Client(base_url=node.url, timeout=10) as http:
        answers = {(method, path): (answer(http, method, path, KNOWN, CREDENTIALS[credentials]),
                                    answer(http, method, path, UNKNOWN,
                                           CREDENTIALS[credentials]))
                   for method, path in routes}
    differ = {route: pair for route, pair in answers.items() if pair[0] != pair[1]}
    assert differ == {}
    assert {status for (status, _), _ in answers.values()} <= {401, 403}


def test_another_sites_session_is_refused_alike(node: Engine) -> None:
    with httpx.Client(base_url=node.url, timeout=10) as http:
        signed_in = http.post("/admin/session", json={"site": "other-shop", "token": OTHER_TOKEN})
        assert signed_in.status_code == 200
        for method, path in site_routes(node):
            if path.endswith("/events"):
                continue  # signed by the shop's server, never by a console session
            known, unknown = (answer(http, method, path, site, {}) for site in (KNOWN, UNKNOWN))
            assert known == unknown == (403, {"error": "this session belongs to another site",
                                              "field": "session"}), (method, path)


@pytest.mark.parametrize("how", ["unsigned", "stale", "wrong secret", "right secret"])
def test_server_events_to_an_unknown_site_are_refused_as_a_bad_signature(
        node: Engine, how: str) -> None:
    body = json.dumps({"events": [{"type": "cart_reset", "id": "r1",
                                   "visitor_id": "visitor-0001"}]}).encode()
    stamp = str(int(time.time()) - (600 if how == "stale" else 0))
    headers = {"unsigned": {},
               "stale": {"X-Ondo-Timestamp": stamp,
                         "X-Ondo-Signature": sign(SECRET, stamp, body)},
               "wrong secret": signed(body, "not-the-secret-0123456789"),
               "right secret": signed(body)}[how]
    replies = [httpx.post(f"{node.url}/v1/sites/{site}/events", content=body, headers=headers)
               for site in (KNOWN, UNKNOWN)]
    if how == "right secret":  # the known site takes it; no secret opens the unknown one
        assert replies[0].status_code == 200
        assert (replies[1].status_code, replies[1].json()) == (
            401, {"error": "signature does not match the body", "field": "X-Ondo-Signature"})
    else:
        assert replies[0].status_code == replies[1].status_code == 401
        assert replies[0].json() == replies[1].json()


def test_the_right_token_still_opens_its_site(node: Engine) -> None:
    reply = httpx.get(f"{node.url}/v1/sites/{KNOWN}/rules/versions",
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
