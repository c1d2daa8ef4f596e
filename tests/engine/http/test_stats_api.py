"""What rules earned, through the stats API of a real engine on a real Redis:
a simulated population meets a rule with a 50% holdout, buys through the signed
server-events API, and the API's lift tells the truth about it."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.cli import main
from engine.delivery.policy import SITE_DRAW, holdout_share
from engine.flow.identity import sign_member
from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import ORIGIN, SECRET, Engine, run_engine, signed, site_config
from tests.engine.client import Visitor

TOKEN = "stats-admin-token"
SHOP = "https://shop.example.com"
RULE = "thanks"
RULES = f"""site: demo-shop
rules:
  - id: {RULE}
    if: visit_count >= 1
    do: {{widget: push_note, title: 감사 쿠폰, body: 오늘만 10% 할인}}
    holdout: "50%"
"""


@pytest.fixture
def shop(redis_url: str, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    limits = dataclasses.replace(LIMITS, connects_per_second=10_000, connect_burst=10_000)
    config = Config(sites={"demo-shop": site_config(
        path, admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())}, limits=limits)
    with run_engine(config, redis_url) as engine:
        yield engine


@pytest.fixture
def held_back_shop(redis_url: str, tmp_path: Path) -> Iterator[Engine]:
    """The shop with half its visitors in the site-wide holdback."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    config = Config(sites={"demo-shop": site_config(
        path, admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest(), holdback=0.5)})
    with run_engine(config, redis_url) as engine:
        yield engine


def stats(shop: Engine, accept: str = "application/json", **params: str) -> httpx.Response:
    time.sleep(1.3)  # the counters are written once a second
    return httpx.get(f"{shop.url}/v1/sites/demo-shop/stats", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {TOKEN}", "Accept": accept})


def about(counted: int, true: int) -> bool:
    """Distinct visitors are HyperLogLog estimates in Redis (0.81% standard error)."""
    return abs(counted - true) <= max(3, 0.03 * true)


def visit(shop: Engine, visitor: str) -> bool:
    """One page view; the action reported shown if it came: whether it did."""
    v = Visitor(shop, visitor)
    v.page(f"{SHOP}/")
    for action in v.actions:
        v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
    v.close()
    return bool(v.actions)


def buy(shop: Engine, orders: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": orders}).encode()
    reply = httpx.post(f"{shop.url}/v1/sites/demo-shop/events", content=body, timeout=30,
                       headers=signed(body))
    assert reply.status_code == 200, reply.text


def order(visitor: str, n: int, amount: int = 30_000) -> dict[str, Any]:
    return {"type": "purchase", "order_id": f"{visitor}-{n}", "visitor_id": visitor,
            "amount": amount}


def population(shop: Engine, size: int, treated_rate: float, control_rate: float,
               seed: int) -> tuple[int, int]:
    """``size`` visitors; each buys with its group's rate. (treated, control) sizes."""
    rng = random.Random(seed)
    orders, groups = [], {"t": 0, "c": 0}
    for n in range(size):
        visitor = f"sim{seed}-{n:05}"
        shown = visit(shop, visitor)
        assert shown == (holdout_share(visitor, RULE) >= 0.5)  # the draw decides
        groups["t" if shown else "c"] += 1
        if rng.random() < (treated_rate if shown else control_rate):
            orders.append(order(visitor, n))
    for start in range(0, len(orders), 1000):
        buy(shop, orders[start:start + 1000])
    return groups["t"], groups["c"]


def period(data: dict[str, Any]) -> dict[str, Any]:
    (rule,) = [r for r in data["rules"] if r["rule"] == RULE]
    (found,) = rule["periods"]
    assert found["share"] == 50.0
    return found


def test_a_rule_that_lifts_conversion_shows_it_with_an_honest_interval(shop: Engine) -> None:
    treated, control = population(shop, 300, 0.40, 0.10, seed=1)
    found = period(stats(shop).json())
    assert about(found["treated"]["visitors"], treated)
    assert about(found["control"]["visitors"], control)
    assert found["verdict"] == "lift"
    low, high = found["absolute"]["low"], found["absolute"]["high"]
    assert low < 0.30 < high  # the true lift, 30 points, is inside
    assert found["treated"]["revenue"] == found["treated"]["conversions"] * 30_000
    assert "lifts conversion by" in found["summary"]


def test_with_no_true_difference_the_interval_covers_zero(shop: Engine) -> None:
    population(shop, 300, 0.20, 0.20, seed=2)
    found = period(stats(shop).json())
    assert found["absolute"]["low"] < 0 < found["absolute"]["high"]
    assert found["verdict"] in ("no_measurable_lift", "not_enough_data")


def drawn(treated: bool, prefix: str, rule: str = RULE, key: str = "") -> str:
    """A visitor id (or member id, with ``key`` "m:") the holdout draws so."""
    return next(v for v in (f"{prefix}-{n:05}" for n in range(10_000))
                if (holdout_share(key + v, rule) >= 0.5) is treated)


def test_a_purchase_counts_once_and_only_inside_the_attribution_window(shop: Engine) -> None:
    buyer, late = drawn(True, "buyer"), drawn(True, "late")
    assert visit(shop, buyer) and visit(shop, late)
    buy(shop, [order(buyer, 1, 50_000)])
    buy(shop, [order(buyer, 1, 50_000)])  # posted twice: one order
    shop.clock.advance(25 * 3_600)  # past the 24 hours
    buy(shop, [order(late, 1, 70_000)])
    found = period(stats(shop, **{"from": "2026-11-18", "to": "2026-11-19"}).json())
    assert (found["treated"]["conversions"], found["treated"]["revenue"]) == (1, 50_000)
    site = stats(shop, **{"from": "2026-11-18", "to": "2026-11-19"}).json()["site_wide"]
    assert sum(p["treated"]["conversions"] for p in site["periods"]) == 2  # the site's sales


def test_held_out_visitors_see_nothing_but_count_as_the_control(shop: Engine) -> None:
    held = drawn(False, "held")
    assert not visit(shop, held)
    found = period(stats(shop).json())
    assert (found["control"]["visitors"], found["treated"]["visitors"]) == (1, 0)
    buy(shop, [order(held, 1)])
    assert period(stats(shop).json())["control"]["conversions"] == 1


def test_the_sites_holdback_sees_nothing_and_is_the_sites_control(
        held_back_shop: Engine) -> None:
    shop = held_back_shop
    # Both would be treated by the rule; only the site's draw tells them apart.
    held, served = (next(v for v in (f"{prefix}-{n:05}" for n in range(10_000))
                         if (holdout_share(v, SITE_DRAW) >= 0.5) is treated
                         and holdout_share(v, RULE) >= 0.5)
                    for prefix, treated in (("held", False), ("served", True)))
    assert not visit(shop, held)
    assert visit(shop, served)
    (rule,) = stats(shop).json()["rules"]
    assert (rule["matched"], rule["shown"], rule["not_shown"]["held_back"]) == (2, 1, 1)
    buy(shop, [order(held, 1, 20_000)])
    data = stats(shop).json()
    (site,) = data["site_wide"]["periods"]
    assert site["share"] == 50.0
    assert (site["treated"]["visitors"], site["control"]["visitors"]) == (1, 1)
    assert (site["control"]["conversions"], site["control"]["revenue"]) == (1, 20_000)


def test_a_members_two_devices_and_purchase_are_one_person(shop: Engine) -> None:
    member = drawn(True, "member", key="m:")
    for device in ("phone-00001", "laptop-0001"):
        v = Visitor(shop, device)
        v.send("identify", {"member_id": member,
                            "signature": sign_member(SECRET, member)})
        v.page(f"{SHOP}/")
        for action in v.actions:
            v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
        assert v.actions, device
        v.close()
    buy(shop, [{"type": "purchase", "order_id": "M-1", "member_id": member, "amount": 9_900}])
    found = period(stats(shop).json())
    assert (found["treated"]["visitors"], found["treated"]["converted"],
            found["treated"]["conversions"]) == (1, 1, 1)


def test_bad_queries_are_named(shop: Engine) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{shop.url}/v1/sites/demo-shop/stats"
    for params, status, field in (
            ({"from": "2026-13-01"}, 422, "from"), ({"to": "yesterday"}, 422, "to"),
            ({"from": "2026-11-20", "to": "2026-11-10"}, 422, "from"),
            ({"from": "2025-01-01", "to": "2026-11-18"}, 422, "to"),
            ({"rule": "no-such-rule"}, 404, "rule")):
        reply = httpx.get(url, params=params, headers=headers)
        assert (reply.status_code, reply.json()["field"]) == (status, field), params
    assert httpx.get(url).status_code == 401
    # An unknown site answers as another site would: this token is not its own.
    unknown = httpx.get(url.replace("demo-shop", "nope"), headers=headers)
    assert (unknown.status_code, unknown.json()["field"]) == (403, "authorization")


@pytest.mark.parametrize(("params", "field"), [
    ({"to": "0001-01-05"}, "to"),  # its default start overflowed Python's dates: a 500
    ({"from": "0001-01-01", "to": "2026-11-18"}, "from"),
    ({"from": "1999-12-31", "to": "2000-01-05"}, "from"),
    ({"from": "2101-01-01", "to": "2026-11-18"}, "from"),
    ({"from": "9999-12-25", "to": "9999-12-31"}, "to"),
    ({"to": "9999-12-31"}, "to"),
])
def test_dates_outside_the_figures_are_422_naming_the_field(
        shop: Engine, params: dict[str, str], field: str) -> None:
    reply = httpx.get(f"{shop.url}/v1/sites/demo-shop/stats", params=params,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert (reply.status_code, reply.json()["field"]) == (422, field)
    assert "2000-01-01 to 2100-12-31" in reply.json()["error"]


def test_the_first_and_last_days_are_in_range(shop: Engine) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for params in ({"from": "2000-01-01", "to": "2000-01-02"},
                   {"from": "2100-12-30", "to": "2100-12-31"}):
        reply = httpx.get(f"{shop.url}/v1/sites/demo-shop/stats", params=params,
                          headers=headers)
        assert reply.status_code == 200, reply.text
        assert (reply.json()["from"], reply.json()["to"]) == (params["from"], params["to"])


def test_csv_has_the_same_figures(shop: Engine) -> None:
    buyer = drawn(True, "csv")
    visit(shop, buyer)
    buy(shop, [order(buyer, 1, 12_000)])
    data = stats(shop).json()
    reply = stats(shop, accept="text/csv")
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text.lstrip("\ufeff"))))
    total = next(r for r in rows if r["rule"] == RULE and r["date"] == "total")
    found = period(data)
    assert int(total["treated_revenue"]) == found["treated"]["revenue"] == 12_000
    assert total["verdict"] == found["verdict"]
    assert int(total["shown"]) == next(r for r in data["rules"] if r["rule"] == RULE)["shown"]


def test_the_cli_says_what_the_api_says(shop: Engine, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    buyer = drawn(True, "cli")
    visit(shop, buyer)
    buy(shop, [order(buyer, 1, 1_250_000)])
    data = stats(shop).json()
    flags = ["--site", "demo-shop", "--url", shop.url, "--token", TOKEN]
    assert main(["stats", *flags, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == data
    assert main(["stats", *flags]) == 0
    table = capsys.readouterr().out
    assert f"{RULE} " in table and "1,250,000원" in table and "50% holdout:" in table


def test_simulated_shoppers_show_up_in_the_stats(shop: Engine, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "engine.toml"
    config.write_text(f'[[sites]]\nid = "demo-shop"\norigins = ["{ORIGIN}"]\n'
                      f'secret = "{SECRET}"\n', encoding="utf-8")
    assert main(["simulate", "--site", "demo-shop", "--visitors", "40", "--config", str(config),
                 "--url", shop.url, "--buy-rate-shown", "1", "--buy-rate", "0"]) == 0
    summary = capsys.readouterr().out
    shown = int(summary.split(" shown an action")[0].split(", ")[-1])
    found = period(stats(shop).json())
    assert about(found["treated"]["visitors"], shown)
    assert found["treated"]["conversions"] == shown and found["control"]["conversions"] == 0
