"""Scenario "forged" of bench/faults.py: forged and out-of-domain requests.

Before issue 22 each of these got through or crashed: a server event naming
``visitor_id: "m:<member>"`` wrote into that member's profile; amounts of 2^63
or 1e19 answered 500 with a traceback; ``X-Ondo-Timestamp: nan`` passed the
freshness check (its signature replayable forever); the link
``/\\evil.example/phish`` passed as a shop path (a browser goes to
evil.example); ``stats?to=0001-01-05`` answered 500; a client gone mid-body
logged a traceback; and an unknown site answered 404 before authentication
while a known one answered 401, so site ids could be enumerated. Here each is
sent to a real engine and its answer (status and field) checked; the engine's
log must hold no traceback. Its clients stand for one address (the defaults).
"""

from __future__ import annotations

import json
import socket
import time
import tomllib

from bench.fault_clients import ROOT, SITE, Checks, Engine, Plan, http

DEMO = tomllib.loads((ROOT / "engine" / "sites" / "demo.toml").read_text(encoding="utf-8"))
SECRET = DEMO["sites"][0]["secret"]
TOKEN = "demo-admin-token"  # the demo's admin token (its SHA-256 is in demo.toml)
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
UNKNOWN = "no-such-shop"


def signed_events(engine: Engine, events: list[dict[str, object]], stamp: str | None = None,
                  site: str = SITE, secret: str = SECRET) -> tuple[int, bytes]:
    from engine.flow.signing import sign

    body = json.dumps({"events": events}).encode()
    stamp = stamp or str(int(time.time()))
    return http("POST", f"{engine.url}/v1/sites/{site}/events", body,
                {"Content-Type": "application/json", "X-Ondo-Timestamp": stamp,
                 "X-Ondo-Signature": sign(secret, stamp, body)}, timeout=10)


def order(**fields: object) -> dict[str, object]:
    return {"type": "purchase", "order_id": "forged-1", "visitor_id": "forged-buyer-01",
            "amount": 1000, **fields}


def answer(status: int, body: bytes) -> str:
    """``status field``, the way the table shows an answer."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status}" + (" (not JSON)" if body else "")
    field = data.get("field") if isinstance(data, dict) else None
    return f"{status} {field}" if field else f"{status}"


def half_body(engine: Engine) -> str:
    """Headers promising 1,000 bytes, 100 of them, then the connection closed:
    what the engine's log got for it."""
    before = len(engine.tracebacks())
    with socket.create_connection(("127.0.0.1", engine.port), timeout=5) as sock:
        sock.sendall(f"POST /v1/sites/{SITE}/rules/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n".encode()
                     + b"rules: [" * 12 + b"x" * 4)
    time.sleep(0.5)  # the engine notices the disconnect and ends the request
    logged = len(engine.tracebacks()) - before
    return f"{logged} traceback(s) in the engine's log" if logged else "no traceback in the log"


def forged(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    rows: list[tuple[str, str, str]] = []

    def expect(request: str, wanted: str, got: str) -> None:
        rows.append((request, wanted, got))
        checks.expect(got == wanted, f"forged: {request} answered {got}, not {wanted}")

    expect('server event `visitor_id: "m:demo-member"` (signed)', "422 events[0].visitor_id",
           answer(*signed_events(engine, [{"type": "tags", "id": "forged-t1",
                                           "visitor_id": "m:demo-member", "add": ["vip"]}])))
    expect("purchase `amount: 2^63` (signed)", "422 events[0].amount",
           answer(*signed_events(engine, [order(amount=2**63)])))
    expect("purchase `amount: 1e19` (signed)", "422 events[0].amount",
           answer(*signed_events(engine, [order(amount=1e19)])))
    expect("purchase item `price: 1e30` (signed)", "422 events[0].items[0].price",
           answer(*signed_events(engine, [order(items=[{"product_id": "P1", "price": 1e30}])])))
    for stamp in ("nan", "inf", f"+{int(time.time())}"):
        expect(f"`X-Ondo-Timestamp: {stamp}` (signed with the site's secret)",
               "401 X-Ondo-Timestamp",
               answer(*signed_events(engine, [order(order_id=f"forged-{stamp}")], stamp)))

    rules = (f"site: {SITE}\nrules:\n  - id: phish\n    do: {{widget: popcorn_button, "
             "text: 쿠폰, link: '/\\evil.example/phish'}\n").encode()
    status, body = http("PUT", f"{engine.url}/v1/sites/{SITE}/rules", rules, ADMIN, timeout=10)
    problems = json.loads(body).get("errors", []) if status == 422 else []
    where = f"{problems[0]['line']}:{problems[0]['column']}" if problems else "-"
    expect("rule upload with `link: '/\\evil.example/phish'`", "422 body, error at 4:50",
           f"{answer(status, body)}, error at {where}")
    feed = json.dumps({"id": "P1", "name": "가방", "price": 1000,
                       "url": "/\\evil.example/p1"}).encode()
    expect("product feed with `url: /\\evil.example/p1`", "422 url",
           answer(*http("PUT", f"{engine.url}/v1/sites/{SITE}/products", feed, ADMIN,
                        timeout=10)))
    feed = json.dumps({"id": "P1", "name": "가방", "price": 1e30, "url": "/p1"}).encode()
    expect("product feed with `price: 1e30`", "422 price",
           answer(*http("PUT", f"{engine.url}/v1/sites/{SITE}/products", feed, ADMIN,
                        timeout=10)))

    stats = f"{engine.url}/v1/sites/{SITE}/stats"
    expect("`GET …/stats?to=0001-01-05`", "422 to",
           answer(*http("GET", stats + "?to=0001-01-05", headers=ADMIN, timeout=10)))
    expect("`GET …/stats?from=1999-12-31&to=2000-01-05`", "422 from",
           answer(*http("GET", stats + "?from=1999-12-31&to=2000-01-05", headers=ADMIN,
                        timeout=10)))

    expect("`POST …/rules/validate`: 100 of 1,000 bytes, then the client closes",
           "no traceback in the log", half_body(engine))

    for name, headers in (("no credentials", {}),
                          ("a wrong token", {"Authorization": "Bearer not-the-token"})):
        known, unknown = (http("GET", f"{engine.url}/v1/sites/{site}/rules/versions",
                               headers=headers) for site in (SITE, UNKNOWN))
        expect(f"`GET …/rules/versions` with {name}: `{UNKNOWN}` as `{SITE}`",
               f"{answer(*known)}, the same body", f"{answer(*unknown)}, "
               + ("the same body" if unknown == known else f"another body {unknown[1]!r}"))
    known, unknown = (signed_events(engine, [order(order_id="forged-site")], site=site,
                                    secret="not-the-secret") for site in (SITE, UNKNOWN))
    expect(f"server event with a wrong signature: `{UNKNOWN}` as `{SITE}`",
           f"{answer(*known)}, the same body", f"{answer(*unknown)}, "
           + ("the same body" if unknown == known else f"another body {unknown[1]!r}"))

    tracebacks = engine.tracebacks()
    checks.expect(not tracebacks, f"forged: {len(tracebacks)} traceback(s) in the engine's log")
    health = engine.health()
    checks.expect(health[0] == 200, f"forged: /healthz answered {health} afterwards")
    return ["| request | expected | answer |", "|---|---|---|",
            *(f"| {r} | {e} | {g}{'' if g == e else ' **(wrong)**'} |" for r, e, g in rows),
            "", f"- tracebacks in the engine's log: {len(tracebacks)}; /healthz afterwards: "
            f"{health[0]} {health[1]}"]
