"""The console's engine side against a real engine and Redis: the page shell
and its policy, signing in and out, the session standing in for the token with
a CSRF token on writes, and the API calls the console makes beyond the CLI's."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import SEED_RULES, Engine, run_engine, site_config
from tests.engine.client import Visitor

TOKEN, OTHER_TOKEN = "console-token-demo", "console-token-other"
SHOP = "https://shop.example.com"
TITLE = "회원가입 혜택"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def config(token: str = TOKEN, attempts: int = 10) -> Config:
    return Config(sites={
        "demo-shop": site_config(admin_token_sha256=sha(token)),
        "other-shop": site_config(id="other-shop", admin_token_sha256=sha(OTHER_TOKEN),
                                  rules=None)},
        limits=dataclasses.replace(LIMITS, signin_attempts=attempts))


@pytest.fixture
def node(redis_url: str) -> Iterator[Engine]:
    with run_engine(config(), redis_url) as running:
        yield running


def client(engine: Engine) -> httpx.Client:
    return httpx.Client(base_url=engine.url, timeout=10)


def sign_in(http: httpx.Client, site: str = "demo-shop", token: str = TOKEN) -> httpx.Response:
    return http.post("/admin/session", json={"site": site, "token": token})


@contextlib.contextmanager
def signed_in(engine: Engine) -> Iterator[tuple[httpx.Client, str]]:
    with client(engine) as http:
        reply = sign_in(http)
        assert reply.status_code == 200, reply.text
        yield http, reply.json()["csrf"]


def test_the_page_is_served_under_a_strict_policy(node: Engine) -> None:
    reply = httpx.get(f"{node.url}/admin/", timeout=10)
    assert reply.status_code == 200
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<meta name="csp-nonce" content="{nonce}">' in reply.text
    assert '<html lang="ko">' in reply.text
    assert (reply.headers["cache-control"], reply.headers["x-frame-options"]) == \
        ("no-store", "DENY")
    again = httpx.get(f"{node.url}/admin/?lang=en", timeout=10)
    assert '<html lang="en">' in again.text and nonce not in again.text
    assert httpx.get(f"{node.url}/admin", timeout=10).status_code == 307


def test_a_wrong_token_and_an_unknown_site_get_the_same_answer(node: Engine) -> None:
    with client(node) as http:
        wrong, unknown = sign_in(http, token="nope"), sign_in(http, site="no-such-shop")
        assert (wrong.status_code, unknown.status_code) == (401, 401)
        assert wrong.json() == unknown.json() == {"error": "wrong site or token", "field": "token"}
        assert "set-cookie" not in wrong.headers
        assert sign_in(http, token=OTHER_TOKEN).status_code == 401  # another site's token


def test_signing_in_sets_a_cookie_the_page_cannot_read(node: Engine) -> None:
    with client(node) as http:
        reply = sign_in(http)
        assert reply.status_code == 200
        assert set(reply.json()) == {"site", "csrf", "expires", "timezone"}
        assert reply.json()["timezone"] == "Asia/Seoul"
        cookie = reply.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain http on loopback; https adds it
        assert TOKEN not in reply.headers["set-cookie"]
        assert http.get("/admin/session").json()["csrf"] == reply.json()["csrf"]


def test_the_session_reads_and_with_its_csrf_token_writes(node: Engine) -> None:
    with signed_in(node) as (http, csrf):
        assert http.get("/v1/sites/demo-shop/rules/active").status_code == 200
        source = SEED_RULES.read_text(encoding="utf-8").replace(TITLE, "가입 쿠폰")
        refused = http.put("/v1/sites/demo-shop/rules", content=source.encode())
        assert (refused.status_code, refused.json()["field"]) == (403, "csrf")
        forged = http.put("/v1/sites/demo-shop/rules", content=source.encode(),
                          headers={"X-CSRF-Token": "guess"})
        assert forged.status_code == 403
        pushed = http.put("/v1/sites/demo-shop/rules", params={"note": "from the console"},
                          content=source.encode(), headers={"X-CSRF-Token": csrf})
        assert pushed.status_code == 200, pushed.text
        other = http.get("/v1/sites/other-shop/rules/versions")
        assert (other.status_code, other.json()["field"]) == (403, "session")


def test_signing_out_ends_the_session_everywhere(node: Engine) -> None:
    with signed_in(node) as (http, csrf):
        cookie = dict(http.cookies)
        assert http.delete("/admin/session").status_code == 403  # without the CSRF token
        assert http.delete("/admin/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        stolen = httpx.get(f"{node.url}/v1/sites/demo-shop/rules/versions", cookies=cookie,
                           timeout=10)
        assert (stolen.status_code, stolen.json()["field"]) == (401, "session")
        assert http.get("/admin/session").status_code == 401


def test_a_new_admin_token_ends_the_old_sessions(redis_url: str) -> None:
    with run_engine(config(), redis_url) as before, signed_in(before) as (http, _):
        cookie = dict(http.cookies)
    with run_engine(config(token="rotated-token"), redis_url) as after:
        reply = httpx.get(f"{after.url}/admin/session", cookies=cookie, timeout=10)
        assert reply.status_code == 401


def test_sign_in_attempts_are_limited_per_address(redis_url: str) -> None:
    with run_engine(config(attempts=3), redis_url) as engine, client(engine) as http:
        assert [sign_in(http, token="x").status_code for _ in range(3)] == [401] * 3
        blocked = sign_in(http)  # even the right token, until the window ends
        assert blocked.status_code == 429
        assert blocked.json()["field"] == "token" and blocked.json()["retry_after"] == 300
        assert blocked.headers["retry-after"] == "300"


def test_only_json_from_the_console_itself_signs_in(node: Engine) -> None:
    form = httpx.post(f"{node.url}/admin/session", data={"site": "demo-shop", "token": TOKEN},
                      timeout=10)
    assert (form.status_code, form.json()["field"]) == (415, "content-type")
    elsewhere = httpx.post(f"{node.url}/admin/session", json={"site": "demo-shop",
                                                              "token": TOKEN},
                           headers={"Origin": "https://evil.example"}, timeout=10)
    assert (elsewhere.status_code, elsewhere.json()["field"]) == (403, "origin")
    missing = httpx.post(f"{node.url}/admin/session", json={"site": "demo-shop"}, timeout=10)
    assert (missing.status_code, missing.json()["field"]) == (422, "token")


def test_the_bearer_token_still_works_beside_sessions(node: Engine) -> None:
    reply = httpx.get(f"{node.url}/v1/sites/demo-shop/rules/states", timeout=10,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    assert httpx.get(f"{node.url}/v1/sites/demo-shop/rules/states",
                     timeout=10).status_code == 401


EXTRA_RULES = """
  - id: paused
    enabled: false
    if: visit_count >= 1
    do: { widget: popcorn_button, text: 쉬는 중 }
  - id: long-gone
    if: visit_count >= 1
    schedule: { until: "2020-01-01T00:00" }
    do: { widget: popcorn_button, text: "<b>지난</b> 행사" }
"""


def test_rule_states_say_on_off_and_off_schedule(node: Engine) -> None:
    source = SEED_RULES.read_text(encoding="utf-8") + EXTRA_RULES
    with signed_in(node) as (http, csrf):
        assert http.put("/v1/sites/demo-shop/rules", content=source.encode(),
                        headers={"X-CSRF-Token": csrf}).status_code == 200
        states = http.get("/v1/sites/demo-shop/rules/states").json()
    by_rule = {r["rule"]: r for r in states["rules"]}
    assert (by_rule["paused"]["state"], by_rule["long-gone"]["state"]) == ("off", "off_schedule")
    assert by_rule["first-visit-signup-nudge"]["state"] == "on"
    assert by_rule["first-visit-signup-nudge"]["title"] == TITLE
    assert by_rule["long-gone"]["title"] == "<b>지난</b> 행사"  # text; the console escapes it
    assert states["timezone"] == "Asia/Seoul"


def test_versions_have_their_text_and_a_line_diff(node: Engine) -> None:
    with signed_in(node) as (http, csrf):
        first = SEED_RULES.read_text(encoding="utf-8")
        second = first.replace(TITLE, "가입 쿠폰")
        versions = [http.put("/v1/sites/demo-shop/rules", content=text.encode(),
                             headers={"X-CSRF-Token": csrf}).json()["version"]
                    for text in (first, second)]
        assert http.get(f"/v1/sites/demo-shop/rules/versions/{versions[0]}").text == first
        diff = http.get("/v1/sites/demo-shop/rules/diff",
                        params={"from": versions[0], "to": versions[1]}).json()
        assert (diff["added"], diff["removed"]) == (1, 1)
        changed = [line for line in diff["lines"] if line["op"] != " "]
        assert [(line["op"], TITLE in line["text"]) for line in changed] == [("-", True),
                                                                             ("+", False)]
        assert changed[0]["old"] == changed[1]["new"]  # the same line of each file
        missing = http.get("/v1/sites/demo-shop/rules/diff", params={"from": versions[0]})
        assert (missing.status_code, missing.json()["field"]) == (422, "to")
        unknown = http.get("/v1/sites/demo-shop/rules/diff", params={"from": "nope", "to": "x"})
        assert (unknown.status_code, unknown.json()["field"]) == (404, "from")
        assert http.get("/v1/sites/demo-shop/rules/versions/nope").status_code == 404


def test_explain_gives_each_rules_action_to_preview(node: Engine) -> None:
    with signed_in(node) as (http, csrf):
        reply = http.post("/v1/sites/demo-shop/rules/explain", headers={"X-CSRF-Token": csrf},
                          json={"profile": {"visit_count": 1, "session_pageviews": 5,
                                            "is_member": False}})
        assert reply.status_code == 200, reply.text
        nudge = next(r for r in reply.json()["rules"] if r["rule"] == "first-visit-signup-nudge")
        assert nudge["preview"]["widget"] == "push_note"
        assert nudge["preview"]["content"]["title"] == TITLE


def test_live_figures_count_this_nodes_sockets(node: Engine) -> None:
    with signed_in(node) as (http, _):
        visitors = [Visitor(node, f"live-visitor-{n}") for n in range(2)]
        for visitor in visitors:
            visitor.page(f"{SHOP}/")
        live = http.get("/v1/sites/demo-shop/live").json()
        assert (live["connections"], live["visitors_now"]) == (2, 2)
        assert live["events_per_second"] >= 0
        for visitor in visitors:
            visitor.close()


def test_the_bundle_is_served_when_built(node: Engine) -> None:
    reply = httpx.get(f"{node.url}/admin/console.js", timeout=10)
    built = (Path(__file__).resolve().parents[3] / "engine" / "static" / "console" /
             "console.js").is_file()
    assert reply.status_code == (200 if built else 404)
    assert httpx.get(f"{node.url}/admin/secrets.txt", timeout=10).status_code == 404
