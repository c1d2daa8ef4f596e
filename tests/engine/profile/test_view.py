from __future__ import annotations

from zoneinfo import ZoneInfo

import rules
from engine.profile.localtime import day_key, local_time
from engine.profile.view import flat_profile
from rules.catalogue import CATALOGUE
from rules.evaluate import check_value

SEOUL = ZoneInfo("Asia/Seoul")
NOW = 1_795_000_000.0  # 2026-11-18 20:06:40 KST (Wednesday)
DAY = 86_400.0


def stored() -> dict[str, object]:
    return {
        "first_seen": NOW - 40 * DAY, "last_seen": NOW - 60, "visit_count": 4,
        "visit_started": NOW - 300, "prev_visit_last_seen": NOW - 3.5 * DAY,
        "session_pageviews": 3, "pageviews_total": 20, "purchase_count": 2,
        "purchase_total": 120_000, "last_purchase_at": NOW - 10 * DAY,
        "is_member": True, "member_grade": "vip", "member_name": "김단골",
        "coupons": {"LOYAL15": NOW + DAY}, "tags": ["vip"],
        "days": {day_key(NOW, SEOUL): {"v": 1, "pv": 3, "pc": 0, "pt": 0},
                 day_key(NOW - 10 * DAY, SEOUL): {"v": 1, "pv": 5, "pc": 1, "pt": 50_000},
                 day_key(NOW - 60 * DAY, SEOUL): {"v": 2, "pv": 12, "pc": 1, "pt": 70_000}},
        "traffic_source": "naver_ads", "device": "mobile", "landing_url": "https://s.kr/",
        "page_url": "https://s.kr/product/1", "page_path": "/product/1", "page_type": "product",
        "product_id": "1", "params": {"q": "가방"},
        "cart": [{"product_id": "P1", "qty": 2, "price": 15_000}], "cart_updated_at": NOW - 60,
        "purchased": ["P7", "P9"],
    }


def test_flat_profile_has_every_catalogue_attribute_with_the_right_type() -> None:
    profile = flat_profile(stored(), NOW, local_time(NOW, SEOUL))
    optional = {a.name for a in CATALOGUE.values() if not a.always}
    missing = [name for name in CATALOGUE if name not in profile and name not in optional]
    assert missing == []
    for name, value in profile.items():
        check_value(name, value)


def test_windows_sessions_and_clock_in_seoul() -> None:
    profile = flat_profile(stored(), NOW, local_time(NOW, SEOUL))
    assert profile["visits_7d"] == 1 and profile["visits_30d"] == 2 and profile["visits_90d"] == 4
    assert profile["purchase_total_30d"] == 50_000 and profile["purchase_total_90d"] == 120_000
    assert profile["days_since_last_visit"] == 3
    assert profile["days_since_last_purchase"] == 10
    assert profile["session_seconds"] == 300
    assert (profile["hour_of_day"], profile["weekday"]) == (20, "wed")
    assert (profile["cart_items"], profile["cart_count"], profile["cart_total"]) == (
        ["P1"], 2, 30_000)
    assert profile["is_first_visit"] is False
    assert profile["purchased_items"] == ["P7", "P9"]


def test_a_rule_reads_what_the_visitor_bought() -> None:
    ruleset = rules.load(
        'site: s\nrules:\n  - id: r\n    if: purchased_items contains "P9"\n'
        '    do: {widget: push_note, title: t}\n', name="r.yaml")
    profile = flat_profile(stored(), NOW, local_time(NOW, SEOUL))
    assert rules.evaluate(ruleset, profile, "pageview") == ["r"]
    assert rules.evaluate(ruleset, {**profile, "purchased_items": ["P7"]}, "pageview") == []


def test_an_old_cart_counts_as_empty() -> None:
    state = stored()
    state["cart_updated_at"] = NOW - 31 * DAY
    profile = flat_profile(state, NOW, local_time(NOW, SEOUL), cart_period=30 * DAY)
    assert (profile["cart_items"], profile["cart_total"]) == ([], 0)


def test_a_first_event_has_no_days_since_last_visit() -> None:
    profile = flat_profile({"visit_count": 1, "visit_started": NOW}, NOW,
                           local_time(NOW, SEOUL))
    assert "days_since_last_visit" not in profile and profile["is_first_visit"] is True
