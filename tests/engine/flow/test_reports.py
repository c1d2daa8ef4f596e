"""The widget's reports (shown, clicked, closed) count only for actions the
engine sent to that visitor, once each: nobody can write statistics, caps or
/metrics lines by sending report frames."""

from __future__ import annotations

import json
import time

import httpx

from engine.runtime.metrics import Metrics
from tests.conftest import ORIGIN, Engine, on_store
from tests.engine.client import Visitor

SHOP = "https://shop.example.com"
DAY = "20261118"  # tests.conftest.START in Seoul


def nudged(engine: Engine, visitor: str) -> tuple[Visitor, dict[str, object]]:
    """A visitor on their fifth page, shown the sign-up nudge."""
    v = Visitor(engine, visitor)
    for n in range(5):
        v.page(f"{SHOP}/p{n}")
    (action,) = v.actions
    return v, action


def report(v: Visitor, action: dict[str, object], what: str, rule: object = None,
           event_id: str | None = None) -> dict[str, object]:
    return v.send("report", {"action": action["id"], "rule": rule or action["rule"],
                             "what": what}, event_id)


def stats(redis_url: str) -> dict[str, int]:
    time.sleep(1.3)  # the counters are written once a second
    return on_store(redis_url, lambda store: store.stats("demo-shop", DAY))


def test_a_shown_report_counts_once_however_often_it_is_sent(engine: Engine,
                                                             redis_url: str) -> None:
    v, action = nudged(engine, "reporter-0001")
    assert report(v, action, "shown")["t"] == "ack"
    assert report(v, action, "shown")["t"] == "ack"  # another event id, the same report
    assert report(v, action, "clicked")["t"] == "ack"
    counted = stats(redis_url)
    assert (counted["first-visit-signup-nudge|shown"],
            counted["first-visit-signup-nudge|clicked"]) == (1, 1)


def test_forged_reports_are_refused_and_counted_nowhere(engine: Engine, redis_url: str) -> None:
    v, action = nudged(engine, "forger-00001")
    _, theirs = nudged(engine, "bystander-01")
    forged = [
        {"action": "0123456789ab.0123456789abcdef0123", "rule": action["rule"]},
        {"action": action["id"], "rule": "loyal-coupon"},  # a real id, another rule
        {"action": theirs["id"], "rule": theirs["rule"]},  # someone else's action
        {"action": action["id"], "rule": 'x"} 1\nondo_fake_total{a="'},
    ]
    for data in forged:
        error = v.send("report", {**data, "what": "clicked"})
        assert (error["t"], error["code"], error["field"]) == ("error", "bad_field",
                                                               "data.action")
    assert "clicked" not in " ".join(stats(redis_url))
    metrics = httpx.get(f"{engine.url}/metrics").text
    assert "ondo_fake_total" not in metrics and "loyal-coupon" not in metrics


def test_reports_by_beacon_are_checked_too(engine: Engine, redis_url: str) -> None:
    v, action = nudged(engine, "beaconist-01")
    v.close()
    def body(action_id: object) -> str:
        return json.dumps({"site": "demo-shop", "visitor": "beaconist-01", "events": [
            {"t": "event", "id": f"r-{action_id}", "kind": "report",
             "data": {"action": action_id, "rule": action["rule"], "what": "closed"}}]})

    headers = {"Origin": ORIGIN}
    forged = httpx.post(f"{engine.url}/v1/beacon", content=body("0" * 12 + "." + "1" * 20),
                        headers=headers)
    assert (forged.status_code, forged.json()["field"]) == (422, "events[0].data.action")
    assert httpx.post(f"{engine.url}/v1/beacon", content=body(action["id"]),
                      headers=headers).status_code == 204
    assert stats(redis_url)["first-visit-signup-nudge|closed"] == 1


def test_a_members_profile_key_is_not_a_visitor_id(engine: Engine) -> None:
    reply = httpx.post(f"{engine.url}/v1/beacon", headers={"Origin": ORIGIN}, content=json.dumps(
        {"site": "demo-shop", "visitor": "m:member-0001", "events": []}))
    assert (reply.status_code, reply.json()["field"]) == (422, "visitor")


def test_metrics_label_values_are_escaped() -> None:
    text = Metrics().render({("shop", 'x"} 1\nondo_fake_total{a="\\|shown'): 1})
    lines = text.splitlines()
    assert not any(line.startswith("ondo_fake_total") for line in lines)
    assert 'rule="x\\"} 1\\nondo_fake_total{a=\\"\\\\"' in text
