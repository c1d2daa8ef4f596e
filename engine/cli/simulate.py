"""``ondo simulate --site S [--visitors N]``: shoppers for a running engine, to
try the statistics on a demo: each opens the widget's socket, browses five
pages, reports the actions it is shown, and buys at one rate when it was shown
an action and at another when not; the orders are posted, signed, through the
server-events API as the shop's server would. Then ``ondo stats`` shows what
the rules earned. Not for a real shop's engine: it writes real profiles.

The site's secret and an allowed origin come from the engine's config file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from engine.cli.serve import DEMO_CONFIG

PAGES = ("/demo/index.html", "/demo/category.html?c=bags", "/demo/product.html?id=1003",
         "/demo/product.html?id=1004", "/demo/cart.html")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("simulate", help="simulated shoppers for a running demo")
    parser.add_argument("--site", required=True)
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--buy-rate-shown", type=float, default=0.30,
                        help="the share that buys among those shown an action (0.30)")
    parser.add_argument("--buy-rate", type=float, default=0.10,
                        help="the share that buys among the others (0.10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG,
                        help="the engine's config, for the site's secret and origin")
    parser.add_argument("--url", default=None, help="engine URL (or ONDO_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from engine.runtime.config import ConfigError, load_config

    try:
        site = load_config(args.config).sites[args.site]
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyError:
        print(f"ondo simulate: no site {args.site!r} in {args.config}", file=sys.stderr)
        return 2
    if not site.origins:
        print(f"ondo simulate: the site {args.site!r} allows no origin", file=sys.stderr)
        return 2
    url = (args.url or os.environ.get("ONDO_URL") or "http://127.0.0.1:8000").rstrip("/")
    rng = random.Random(args.seed)
    orders, shown = [], 0
    for n in range(args.visitors):
        visitor = f"sim{args.seed:03d}{rng.getrandbits(64):016x}"
        try:
            saw = _shop(url, site.id, site.origins[0], visitor)
        except OSError as exc:
            print(f"ondo simulate: cannot reach the engine at {url}: {exc}", file=sys.stderr)
            return 1
        shown += saw
        if rng.random() < (args.buy_rate_shown if saw else args.buy_rate):
            orders.append({"type": "purchase", "order_id": f"SIM-{visitor}",
                           "visitor_id": visitor, "amount": rng.choice((19_000, 28_000,
                                                                        45_000, 89_000))})
        if (n + 1) % 50 == 0:
            print(f"{n + 1} shoppers...", file=sys.stderr)
    for start in range(0, len(orders), 1000):
        _post(url, site.id, site.secret, orders[start:start + 1000])
    print(f"{args.visitors} shoppers, {shown} shown an action, {len(orders)} orders posted; "
          f"`ondo stats --site {site.id}` shows what the rules earned")
    return 0


def _shop(url: str, site: str, origin: str, visitor: str) -> bool:
    """One shopper's five pages; whether any action was shown to it."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin, Subprotocol

    from engine.wire.protocol import SUBPROTOCOL_JSON

    subprotocol = Subprotocol(SUBPROTOCOL_JSON)

    ws_url = f"{url.replace('http', 'ws', 1)}/v1/ws?site={site}&visitor={visitor}"
    while True:
        try:
            socket = connect(ws_url, origin=Origin(origin), subprotocols=[subprotocol],
                             open_timeout=10)
            break
        except InvalidStatus as exc:
            if exc.response.status_code != 429:  # the connect limit: wait, as the widget does
                raise OSError(f"the engine refused the socket: {exc}") from None
            time.sleep(float(exc.response.headers.get("Retry-After", "1")))
    with socket:
        socket.send(json.dumps({"t": "hello", "page": {"url": origin + PAGES[0]}}))
        socket.recv(timeout=10)
        actions = []
        for n, page in enumerate(PAGES):
            socket.send(json.dumps({"t": "event", "id": f"{visitor}-p{n}", "kind": "pageview",
                                    "data": {"url": origin + page}}))
            actions += _until_ack(socket, f"{visitor}-p{n}")
        for n, action in enumerate(actions):
            socket.send(json.dumps({"t": "event", "id": f"{visitor}-r{n}", "kind": "report",
                                    "data": {"action": action["id"], "rule": action["rule"],
                                             "what": "shown"}}))
            _until_ack(socket, f"{visitor}-r{n}")
    return bool(actions)


def _until_ack(socket: Any, event_id: str) -> list[dict[str, Any]]:
    """The actions that came before this event's ack, and the ack's own."""
    actions = []
    while True:
        frame = json.loads(socket.recv(timeout=10))
        if frame["t"] == "action":
            actions.append(frame)
        elif frame.get("id") == event_id:
            break
    # An event's actions follow its ack at once.
    while True:
        try:
            frame = json.loads(socket.recv(timeout=0.01))
        except TimeoutError:
            return actions
        if frame["t"] == "action":
            actions.append(frame)


def _post(url: str, site: str, secret: str, events: list[dict[str, Any]]) -> None:
    from engine.flow.signing import sign

    body = json.dumps({"events": events}).encode()
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        f"{url}/v1/sites/{site}/events", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Ondo-Timestamp": stamp,
                 "X-Ondo-Signature": sign(secret, stamp, body)})
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except urllib.error.HTTPError as exc:
        raise OSError(f"the engine refused the orders: {exc.code} {exc.read()[:200]!r}") \
            from None
