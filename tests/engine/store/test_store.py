"""The store's contract for visitor profiles, on the Lua store (a real Redis)
and the in-memory store alike: visits, sessions, day buckets and windows,
every kind of event, merges, caps, duplicates, time to live, and results that
are the caller's own copies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from engine.profile.layout import EVENT_IDS, flat_days, visitor_key
from engine.profile.localtime import day_key
from engine.store.base import Applied, Store
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from tests.engine.store.stores import DAY, HOUR, MIN, SEOUL, T0, Driver, Run, pageview

TODAY = day_key(T0, SEOUL)


def plain(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile with its caps as a dict (the Redis store's decode lazily)."""
    return {**profile, "caps": dict(profile["caps"])}


def shown(rule: str = "r") -> dict[str, Any]:
    return {"rule": rule, "what": "shown", "action": "a1", "stop": False}


def merge(driver: Driver, anonymous: str) -> dict[str, Any]:
    """What the pipeline sends when a visitor proves to be a member."""
    full = driver.profile(anonymous)
    return {"anon": {k: v for k, v in full.items() if k not in ("days", "caps", "windows")},
            "days": flat_days(full["days"]), "caps": dict(full["caps"])}


# -- visits and sessions -------------------------------------------------------

def test_visits_roll_after_thirty_minutes_of_silence(driver: Driver) -> None:
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"]) == (1, 1)
    driver.advance(29 * MIN)
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"]) == (1, 2)
    driver.advance(31 * MIN)
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"], p["pageviews_total"]) == (2, 1, 3)
    assert p["prev_visit_last_seen"] == T0 + 29 * MIN
    assert p["visit_started"] == p["last_seen"] == T0 + 60 * MIN


def test_any_event_of_the_visitor_keeps_the_visit_going(driver: Driver) -> None:
    p = driver.event("track").profile
    assert (p["visit_count"], p["session_pageviews"], p["last_seen"]) == (1, 0, T0)
    for kind in ("cart", "signal", "track"):
        driver.advance(20 * MIN)
        p = driver.event(kind, {"items": []} if kind == "cart" else {}).profile
    assert (p["visit_count"], p["last_seen"]) == (1, T0 + 60 * MIN)


def test_events_from_the_shops_server_never_start_a_visit(driver: Driver) -> None:
    for kind, payload in (("purchase", {"amount": 1_000}), ("member", {"grade": "gold"}),
                          ("coupon", {"code": "A", "action": "issued", "expires_at": T0 + DAY}),
                          ("cart_reset", {})):
        p = driver.event(kind, payload).profile
    assert p["first_seen"] == T0
    assert "visit_count" not in p and "last_seen" not in p
    driver.advance(MIN)
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["last_seen"]) == (1, T0 + MIN)
    driver.advance(31 * MIN)
    p = driver.event("purchase", {"amount": 500}).profile  # nor end the silence
    assert (p["visit_count"], p["last_seen"]) == (1, T0 + MIN)
    assert driver.profile()["days"][TODAY] == {"v": 1, "pv": 1, "pc": 2, "pt": 1_500}


def test_session_facts_are_set_when_a_visit_starts(driver: Driver) -> None:
    driver.event("pageview", pageview(traffic_source="naver_ads", is_ad=True))
    driver.advance(5 * MIN)
    p = driver.event("pageview", pageview(traffic_source="organic")).profile
    assert (p["traffic_source"], p["ad_visit_count"]) == ("naver_ads", 1)
    driver.advance(31 * MIN)
    p = driver.event("pageview", pageview(traffic_source="organic", utm_source=None)).profile
    assert (p["traffic_source"], p["ad_visit_count"]) == ("organic", 1)
    assert "utm_source" not in p


def test_a_page_view_keeps_the_latest_page_and_forgets_what_it_lacks(driver: Driver) -> None:
    p = driver.event("pageview", pageview("/p/1", page_type="product", product_id="P1",
                                          category="shoes", params={"q": "x"})).profile
    assert (p["page_path"], p["page_type"], p["product_id"], p["category"], p["params"]) == \
        ("/p/1", "product", "P1", "shoes", {"q": "x"})
    p = driver.event("pageview", {"page_url": "https://s.kr/", "page_path": "/",
                                  "page_type": "home", "product_id": None, "params": {}}).profile
    assert "product_id" not in p and "category" not in p
    # cmsgpack writes an empty map as an empty array: engine/profile/view.py reads
    # an empty list as no params, no coupons.
    assert p["params"] == []


# -- numbers as Lua keeps them -------------------------------------------------

def test_whole_numbers_come_back_as_ints(driver: Driver) -> None:
    p = driver.event("purchase", {"amount": "30000"}).profile
    assert (p["first_seen"], p["purchase_total"]) == (T0, 30_000)
    assert type(p["first_seen"]) is int and type(p["purchase_total"]) is int
    driver.advance(0.5)
    p = driver.event("pageview", pageview()).profile
    assert p["last_seen"] == T0 + 0.5 and type(p["last_seen"]) is float


# -- purchases, members, coupons, carts, identities ----------------------------

def test_purchases_add_up_and_members_are_marked(driver: Driver) -> None:
    driver.event("purchase", {"amount": 30_000})
    driver.advance(MIN)
    p = driver.event("purchase", {}).profile  # no amount: counted, worth nothing
    assert (p["purchase_count"], p["purchase_total"], p["last_purchase_at"]) == \
        (2, 30_000, T0 + MIN)
    driver.event("member", {"grade": "gold", "name": "Kim"})
    p = driver.event("member", {}).profile  # what it does not say is kept
    assert (p["is_member"], p["member_grade"], p["member_name"]) == (True, "gold", "Kim")
    assert driver.profile()["days"][TODAY] == {"v": 0, "pv": 0, "pc": 2, "pt": 30_000}


def test_purchases_keep_the_products_bought_newest_last_each_once(driver: Driver) -> None:
    driver.event("purchase", {"amount": 3_000, "items": [
        {"product_id": "A", "qty": 1, "price": 1_000},
        {"product_id": "B", "qty": 1, "price": 2_000}]})
    p = driver.event("purchase", {"amount": 1_000, "items": [
        {"product_id": "A", "qty": 1, "price": 1_000}]}).profile
    assert p["purchased"] == ["B", "A"]
    many = [{"product_id": f"P{i}", "qty": 1, "price": 10} for i in range(60)]
    p = driver.event("purchase", {"amount": 600, "items": many}).profile
    assert p["purchased"] == [f"P{i}" for i in range(10, 60)]  # the last 50


def test_an_order_counts_on_the_day_it_was_placed(driver: Driver) -> None:
    yesterday = day_key(T0 - DAY, SEOUL)
    driver.event("purchase", {"amount": 5_000})
    p = driver.event("purchase", {"amount": 20_000, "ordered_at": T0 - DAY,
                                  "day": yesterday}).profile
    assert p["last_purchase_at"] == T0  # the later of the two
    days = driver.profile()["days"]
    assert (days[TODAY]["pt"], days[yesterday]["pt"], days[yesterday]["pc"]) == \
        (5_000, 20_000, 1)
    driver.event("purchase", {"amount": 1, "ordered_at": T0 - 400 * DAY, "day": "20251001"})
    assert "20251001" not in driver.profile()["days"]  # past the 90 days: counted, not bucketed
    assert driver.profile()["purchase_count"] == 3


def test_tags_are_added_and_removed_in_order_the_last_fifty(driver: Driver) -> None:
    driver.event("tags", {"add": ["vip", "newsletter"], "remove": []})
    p = driver.event("tags", {"add": ["vip"], "remove": ["newsletter", "never-set"]}).profile
    assert p["tags"] == ["vip"]
    p = driver.event("tags", {"add": [f"t{n}" for n in range(50)], "remove": []}).profile
    assert p["tags"] == [f"t{n}" for n in range(50)]  # "vip", the oldest, dropped
    p = driver.event("tags", {"add": [], "remove": [f"t{n}" for n in range(50)]}).profile
    assert p["tags"] == []


def test_a_members_first_sign_up_time_is_kept(driver: Driver) -> None:
    driver.event("member", {"signed_up_at": T0 - DAY})
    p = driver.event("member", {"signed_up_at": T0, "grade": "gold"}).profile
    assert (p["signed_up_at"], p["member_grade"]) == (T0 - DAY, "gold")


def test_coupons_are_issued_used_and_expired(driver: Driver) -> None:
    driver.event("coupon", {"code": "WELCOME", "action": "issued", "expires_at": T0 + DAY})
    p = driver.event("coupon", {"code": "VIP", "action": "issued",
                                "expires_at": T0 + 7 * DAY}).profile
    assert p["coupons"] == {"WELCOME": T0 + DAY, "VIP": T0 + 7 * DAY}
    p = driver.event("coupon", {"code": "WELCOME", "action": "used"}).profile
    assert p["coupons"] == {"VIP": T0 + 7 * DAY}
    p = driver.event("coupon", {"code": "VIP", "action": "expired"}).profile
    assert p["coupons"] == []  # an empty map, as cmsgpack writes it


def test_cart_is_replaced_whole(driver: Driver) -> None:
    driver.event("cart", {"items": [{"product_id": "A", "qty": 1, "price": 1000}]})
    p = driver.event("cart", {"items": [{"product_id": "B", "qty": 2, "price": 500}]}).profile
    assert p["cart"] == [{"product_id": "B", "qty": 2, "price": 500}]


def test_the_shop_empties_the_cart(driver: Driver) -> None:
    driver.event("cart", {"items": [{"product_id": "A", "qty": 1, "price": 1000}]})
    driver.advance(MIN)
    p = driver.event("cart_reset").profile
    assert (p["cart"], p["cart_updated_at"]) == ([], T0 + MIN)


def test_identify_asks_for_a_merge_once_per_member(driver: Driver) -> None:
    asks = [driver.event("identify", {"member_id": member}).profile["merge_needed"]
            for member in ("kim", "kim", "lee")]
    assert asks == [True, False, True]
    assert driver.profile()["member_id"] == "lee"


# -- merges ---------------------------------------------------------------------

def test_a_merge_adds_up_unions_coupons_and_takes_the_newest_cart_and_session(
        driver: Driver) -> None:
    member = "m:kim"
    driver.event("pageview", pageview("/member"), visitor=member)
    driver.event("coupon", {"code": "A", "action": "issued", "expires_at": T0 + DAY},
                 visitor=member)
    driver.event("cart", {"items": [{"product_id": "X"}]}, visitor=member)
    driver.event("tags", {"add": ["member-tag"], "remove": []}, visitor=member)
    for _ in range(2):
        driver.event("report", shown("r1"), visitor=member)
    driver.advance(HOUR)
    driver.event("pageview", pageview("/ad", traffic_source="naver_ads", is_ad=True))
    driver.event("pageview", pageview("/p/1"))
    driver.event("purchase", {"amount": 1_000, "items": [{"product_id": "Z", "qty": 1,
                                                          "price": 1_000}]})
    for code, expiry in (("A", T0 + 7 * DAY), ("B", T0 + 2 * DAY)):
        driver.event("coupon", {"code": code, "action": "issued", "expires_at": expiry})
    driver.event("cart", {"items": [{"product_id": "Y"}]})
    driver.event("tags", {"add": ["from-ad", "member-tag"], "remove": []})
    driver.event("member", {"signed_up_at": T0 + HOUR})
    for rule in ("r1", "r2"):
        driver.event("report", shown(rule))

    p = driver.event("merge", merge(driver, "visitor-1"), visitor=member).profile
    assert (p["visit_count"], p["pageviews_total"], p["purchase_count"], p["purchase_total"],
            p["ad_visit_count"]) == (2, 3, 1, 1_000, 1)
    assert p["coupons"] == {"A": T0 + 7 * DAY, "B": T0 + 2 * DAY}  # the later expiry
    assert p["cart"] == [{"product_id": "Y"}]
    assert p["purchased"] == ["Z"]
    assert (p["tags"], p["signed_up_at"]) == (["member-tag", "from-ad"], T0 + HOUR)
    assert p["last_purchase_at"] == T0 + HOUR  # the anonymous order's
    assert (p["first_seen"], p["is_member"]) == (T0, True)
    # The anonymous session is the one in progress.
    assert (p["traffic_source"], p["page_path"], p["visit_started"], p["last_seen"]) == \
        ("naver_ads", "/p/1", T0 + HOUR, T0 + HOUR)
    assert {rule: cap["n"] for rule, cap in p["caps"].items()} == {"r1": 2, "r2": 1}
    assert p["windows"]["visits_7d"] == 2
    assert driver.profile(member)["days"][TODAY] == {"v": 2, "pv": 3, "pc": 1, "pt": 1_000}


def test_a_merge_keeps_the_members_own_newer_session_and_drops_old_buckets(
        driver: Driver) -> None:
    driver.event("pageview", pageview("/anon", traffic_source="naver_ads"))
    driver.advance(HOUR)
    driver.event("pageview", pageview("/member"), visitor="m:kim")
    payload = merge(driver, "visitor-1")
    payload["days"]["20200101:pv"] = 5  # past the 90 days: not merged
    p = driver.event("merge", payload, visitor="m:kim").profile
    assert (p["traffic_source"], p["page_path"], p["last_seen"]) == \
        ("direct", "/member", T0 + HOUR)
    assert (p["visit_count"], p["first_seen"]) == (2, T0)
    assert "20200101" not in driver.profile("m:kim")["days"]


# -- reports: caps and fatigue -------------------------------------------------

def test_reports_update_caps_and_fatigue(driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("report", shown())
    p = driver.event("report", shown()).profile
    cap = p["caps"]["r"]
    assert (cap["n"], cap["s"], cap["sn"], cap["d"], cap["dn"]) == (2, 1, 2, TODAY, 2)
    assert p["fatigue"] == {"s": 1, "sn": 2, "d": TODAY, "dn": 2, "t": T0}
    p = driver.event("report", {"rule": "r", "what": "clicked", "stop": True}).profile
    assert p["caps"]["r"]["stop"] is True


def test_shows_count_per_visit_and_per_day_and_keep_the_fifty_latest_times(
        driver: Driver) -> None:
    driver.event("pageview", pageview())
    for _ in range(55):
        driver.advance(1)
        p = driver.event("report", shown()).profile
    assert p["caps"]["r"]["t"] == [T0 + n for n in range(6, 56)]
    driver.advance(31 * MIN)  # a new visit, the same day
    driver.event("pageview", pageview())
    fatigue = driver.event("report", shown("other")).profile["fatigue"]
    assert (fatigue["s"], fatigue["sn"], fatigue["d"], fatigue["dn"]) == (2, 1, TODAY, 56)
    driver.advance(DAY)
    driver.event("pageview", pageview())
    cap = driver.event("report", shown()).profile["caps"]["r"]
    assert (cap["n"], cap["s"], cap["sn"], cap["dn"]) == (56, 3, 1, 1)


def test_a_report_without_stop_leaves_the_cap_alone(driver: Driver) -> None:
    driver.event("pageview", pageview())
    p = driver.event("report", {"rule": "r", "what": "closed", "stop": False}).profile
    assert "r" not in p["caps"] and "fatigue" not in p
    p = driver.event("report", {"rule": "r", "what": "closed", "stop": True}).profile
    assert dict(p["caps"]["r"]) == {"n": 0, "sn": 0, "dn": 0, "stop": True}


def test_caps_of_many_rules_come_back_whole(driver: Driver) -> None:
    driver.event("pageview", pageview())
    for n in range(30):
        result = driver.event("report", shown(f"rule-{n}"))
    caps = result.profile["caps"]
    assert len(caps) == 30 and sorted(caps) == sorted(f"rule-{n}" for n in range(30))
    assert caps.get("rule-7")["n"] == 1 and caps.get("never-shown") is None
    assert {rule: cap["n"] for rule, cap in dict(caps).items()} == {
        f"rule-{n}": 1 for n in range(30)}


# -- day buckets and windows ---------------------------------------------------

def test_day_buckets_count_visits_views_and_purchases_and_expire(driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("purchase", {"amount": 30_000})
    p = driver.event("pageview", pageview()).profile
    assert (p["windows"]["visits_7d"], p["windows"]["pageviews_7d"],
            p["windows"]["purchase_total_30d"]) == (1, 2, 30_000)
    assert (p["purchase_count"], p["purchase_total"]) == (1, 30_000)
    assert driver.profile()["days"][TODAY] == {"v": 1, "pv": 2, "pc": 1, "pt": 30_000}
    driver.advance(8 * DAY)
    p = driver.event("pageview", pageview()).profile
    assert (p["windows"]["visits_7d"], p["windows"]["visits_30d"]) == (1, 2)
    driver.advance(91 * DAY)
    driver.event("pageview", pageview())
    assert TODAY not in driver.profile()["days"]


def test_windows_sum_seven_thirty_and_ninety_days(driver: Driver) -> None:
    for amount in (100, 200, 400):
        driver.event("pageview", pageview())
        p = driver.event("purchase", {"amount": amount}).profile
        driver.advance(25 * DAY)
    assert p["windows"] == {
        "visits_7d": 1, "pageviews_7d": 1, "purchase_count_7d": 1, "purchase_total_7d": 400,
        "visits_30d": 2, "pageviews_30d": 2, "purchase_count_30d": 2, "purchase_total_30d": 600,
        "visits_90d": 3, "pageviews_90d": 3, "purchase_count_90d": 3, "purchase_total_90d": 700}


def test_windows_are_summed_only_when_asked_and_buckets_only_read(driver: Driver) -> None:
    p = driver.event("pageview", pageview(), windows=False).profile
    assert "windows" not in p and p["days"] == {}
    p = driver.event("pageview", pageview()).profile
    assert p["windows"]["pageviews_7d"] == 2 and p["days"] == {}
    stored = driver.profile()
    assert "windows" not in stored
    assert stored["days"] == {TODAY: {"v": 1, "pv": 2, "pc": 0, "pt": 0}}


def test_an_unknown_visitor_has_no_profile(driver: Driver) -> None:
    assert plain(driver.profile("nobody")) == {"days": {}, "caps": {}}


# -- duplicates and time to live -----------------------------------------------

def test_the_same_id_is_applied_once(driver: Driver) -> None:
    assert driver.event("purchase", {"amount": 10}, event_id="o1").status is Applied.NEW
    again = driver.event("purchase", {"amount": 10}, event_id="o1")
    assert again.status is Applied.DUPLICATE
    assert again.profile["purchase_total"] == 10
    other = driver.event("purchase", {"amount": 99}, event_id="o1", digest="other")
    assert other.status is Applied.CONFLICT
    assert other.profile["purchase_total"] == 10


def test_a_duplicate_changes_nothing_and_answers_the_stored_profile(driver: Driver) -> None:
    driver.event("pageview", pageview(), event_id="p1")
    driver.advance(31 * MIN)
    again = driver.event("pageview", pageview(), event_id="p1")
    assert again.status is Applied.DUPLICATE
    assert (again.profile["visit_count"], again.profile["last_seen"]) == (1, T0)
    assert again.profile["windows"]["pageviews_7d"] == 1
    assert driver.profile()["pageviews_total"] == 1


def test_an_id_is_remembered_for_a_day_from_when_it_was_stored(driver: Driver) -> None:
    driver.event("purchase", {"amount": 10}, event_id="o1")
    driver.advance(23 * HOUR)
    driver.event("pageview", pageview())  # the visitor's activity does not extend o1's day
    assert driver.event("purchase", {"amount": 10}, event_id="o1").status is Applied.DUPLICATE
    driver.advance(2 * HOUR)
    again = driver.event("purchase", {"amount": 10}, event_id="o1")
    assert (again.status, again.profile["purchase_count"]) == (Applied.NEW, 2)


def test_a_regulars_old_ids_are_dropped_when_a_visit_starts(driver: Driver,
                                                           store: Store) -> None:
    for visit in range(5):  # a visit every 12 hours, ten page views each
        for n in range(10):
            driver.event("pageview", pageview(), event_id=f"v{visit}-{n}")
        driver.advance(12 * HOUR)
    # The last two visits' ids are within the day of the dedupe window; the
    # hash's own time to live never ran out, yet the older ones are gone.
    assert ids_kept(driver, store) == {f"v{visit}-{n}" for visit in (3, 4)
                                       for n in range(10)} | {"last"}


def ids_kept(driver: Driver, store: Store) -> set[str]:
    driver.event("pageview", pageview(), event_id="last")  # starts a visit: prunes
    if isinstance(store, RedisStore):
        raw = driver.run(store.client.hkeys(visitor_key("s", "visitor-1", EVENT_IDS)))
        return {key.decode() for key in raw}
    assert isinstance(store, MemoryStore)
    return set(store._visitors[("s", "visitor-1")].state.ids)


def test_a_profile_is_forgotten_after_its_time_to_live(driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("report", shown())
    driver.advance(399 * DAY)
    assert driver.profile()["visit_count"] == 1
    driver.event("pageview", pageview())
    driver.advance(401 * DAY)
    assert plain(driver.profile()) == {"days": {}, "caps": {}}
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["first_seen"], dict(p["caps"])) == (1, driver.now, {})


# -- results are the caller's ---------------------------------------------------

def test_results_are_copies_of_the_stored_profile(driver: Driver) -> None:
    items = [{"product_id": "A", "qty": 1, "price": 1000}]
    driver.event("pageview", pageview(params={"q": "x"}))
    p = driver.event("cart", {"items": items}).profile
    items[0]["qty"] = 99  # the caller's payload is not kept either
    p["cart"][0]["qty"] = 50
    p["params"]["q"] = "changed"
    p = driver.event("report", shown()).profile
    p["caps"]["r"]["n"] = 99
    p["caps"]["r"]["t"].append(0)
    p["fatigue"]["sn"] = 99
    stored = driver.profile()
    stored["days"][TODAY]["pv"] = 99
    stored = driver.profile()
    assert stored["cart"] == [{"product_id": "A", "qty": 1, "price": 1000}]
    assert stored["params"] == {"q": "x"}
    assert (stored["caps"]["r"]["n"], stored["caps"]["r"]["t"]) == (1, [T0])
    assert stored["fatigue"]["sn"] == 1
    assert stored["days"][TODAY]["pv"] == 1


# -- Redis itself ---------------------------------------------------------------

@pytest.fixture
def on_redis(redis_url: str, run: Run) -> Iterator[Driver]:
    store = RedisStore(redis_url)
    yield Driver(store, run)
    run(store.close())


def test_keys_share_the_visitors_hash_tag(on_redis: Driver, redis_url: str) -> None:
    on_redis.event("pageview", pageview())
    keys = sorted(k.decode() for k in redis.Redis.from_url(redis_url).keys("ondo:*"))
    assert keys == ["ondo:{s:visitor-1}:d", "ondo:{s:visitor-1}:e", "ondo:{s:visitor-1}:p"]


def exposed(rule: str, what: str = "shown", window: float = DAY) -> dict[str, Any]:
    return {"rule": rule, "what": what, "action": "a1", "stop": False, "window": window,
            "group": "t10"}


def test_a_shown_action_and_a_held_out_match_are_remembered_as_exposures(
        driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("report", exposed("welcome"))
    driver.advance(MIN)
    driver.event("exposure", {"rules": {"upsell": "c10", "bookmark": "c50"}, "window": DAY})
    driver.advance(MIN)
    driver.event("report", exposed("welcome", "clicked"))
    x = driver.profile()["x"]
    assert x == {"welcome": {"t": T0, "g": "t10", "k": T0 + 2 * MIN},
                 "upsell": {"t": T0 + MIN, "g": "c10"}, "bookmark": {"t": T0 + MIN, "g": "c50"}}


def test_exposures_past_the_window_are_dropped_and_the_latest_fifty_kept(
        driver: Driver) -> None:
    driver.event("report", exposed("old", window=HOUR))
    driver.advance(2 * HOUR)
    for n in range(60):
        driver.event("report", exposed(f"r{n:02}", window=HOUR))
        driver.advance(1)
    x = driver.profile()["x"]
    assert "old" not in x and len(x) == 50
    assert set(x) == {f"r{n:02}" for n in range(10, 60)}


def test_a_members_exposures_from_the_anonymous_profile_join_theirs(driver: Driver) -> None:
    driver.event("report", exposed("welcome"), visitor="anon-1")
    driver.advance(MIN)
    driver.event("report", exposed("upsell"), visitor="m:kim")
    driver.event("merge", merge(driver, "anon-1"), visitor="m:kim")
    assert set(driver.profile("m:kim")["x"]) == {"welcome", "upsell"}
