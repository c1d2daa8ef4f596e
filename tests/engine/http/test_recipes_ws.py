"""The seed recipes at protocol level: real engine, real Redis, real sockets,
simulated days through the injected clock."""

from __future__ import annotations

from engine.profile.localtime import local_time
from engine.store.base import StoredEvent
from tests.conftest import Engine, on_store
from tests.engine.client import Visitor

HOUR, DAY = 3600.0, 86_400.0
SHOP = "https://shop.example.com"


def widgets(visitor: Visitor) -> list[str]:
    return [a["widget"] for a in visitor.actions]


def test_first_visit_reaching_five_pages_gets_the_signup_nudge(engine: Engine) -> None:
    v = Visitor(engine, "first-visit-1")
    for n in range(4):
        assert v.page(f"{SHOP}/product/{n}")["t"] == "ack"
        engine.clock.advance(20)
    assert v.actions == []
    v.page(f"{SHOP}/category/shoes")
    (action,) = v.actions
    assert action["rule"] == "first-visit-signup-nudge"
    assert action["widget"] == "push_note"
    assert action["content"] == {"title": "회원가입 혜택", "body": "지금 가입하면 3,000원 쿠폰",
                                 "link": "/join"}


def test_a_returning_visitor_at_five_pages_gets_no_signup_nudge(engine: Engine) -> None:
    v = Visitor(engine, "returning-1")
    v.page(f"{SHOP}/")
    engine.clock.advance(DAY)
    for n in range(6):
        v.page(f"{SHOP}/product/{n}")
    assert "push_note" not in widgets(v)


def test_second_visit_from_naver_search_ads_gets_the_bookmark_prompt(engine: Engine) -> None:
    v = Visitor(engine, "ad-returner-1")
    landing = f"{SHOP}/?n_media=27758&n_query=%EA%B0%80%EB%B0%A9&n_rank=1"
    v.page(landing, referrer="https://search.naver.com/search.naver?query=가방")
    assert v.actions == []  # first visit
    engine.clock.advance(2 * HOUR)  # past the 30-minute session timeout: a second visit
    v.page(landing, referrer="https://search.naver.com/search.naver?query=가방")
    (action,) = v.actions
    assert action["rule"] == "bookmark-ad-returners"
    assert action["widget"] == "bookmark_prompt"


def test_second_visit_from_organic_search_gets_no_bookmark_prompt(engine: Engine) -> None:
    v = Visitor(engine, "organic-1")
    v.page(f"{SHOP}/", referrer="https://www.google.com/")
    engine.clock.advance(2 * HOUR)
    v.page(f"{SHOP}/", referrer="https://www.google.com/")
    assert v.actions == []


def _purchase(redis_url: str, visitor: str, amount: int, now: float, order: str) -> None:
    """A purchase as the server-to-server events API stores it."""
    from zoneinfo import ZoneInfo

    local = local_time(now, ZoneInfo("Asia/Seoul"))

    on_store(redis_url, lambda store: store.apply("demo-shop", visitor, StoredEvent.at(
        f"order-{order}", "purchase", order, now, local, {"amount": amount})))


def test_a_regular_with_a_3man_cart_gets_the_upsell(engine: Engine, redis_url: str) -> None:
    v = Visitor(engine, "regular-0001")
    for day in range(10):
        v.page(f"{SHOP}/")
        if day < 3:
            _purchase(redis_url, "regular-0001", 40_000, engine.clock.now(), f"o{day}")
        engine.clock.advance(DAY)
    v.actions.clear()
    v.send("cart", {"items": [{"product_id": "P1", "qty": 1, "price": 30_000}]})
    assert [a["rule"] for a in v.actions] == ["upsell-free-shipping"]
    assert v.actions[0]["content"]["text"] == "5만원 이상 구매 시 15% 할인"
    v.actions.clear()
    v.send("cart", {"items": [{"product_id": "P1", "qty": 2, "price": 30_000}]})  # 6만
    assert v.actions == []


def test_ten_visits_and_30man_spent_get_the_loyal_coupon_with_a_login_link(
        engine: Engine, redis_url: str) -> None:
    v = Visitor(engine, "loyal-000001")
    for _day in range(10):
        v.page(f"{SHOP}/")
        engine.clock.advance(DAY)
    assert "popcorn_button" not in widgets(v)
    _purchase(redis_url, "loyal-000001", 300_000, engine.clock.now(), "big")
    v.page(f"{SHOP}/")
    coupon = [a for a in v.actions if a["rule"] == "loyal-coupon"]
    assert len(coupon) == 1
    assert coupon[0]["content"]["text"] == "고객님, 단골 감사 쿠폰 받아가세요"
    assert coupon[0]["content"]["link"] == (
        "/member/login.html?returnUrl=%2Fcoupon%2Fdownload%3Fcode%3DLOYAL15")


def test_a_reported_show_caps_the_rule_for_the_session(engine: Engine) -> None:
    v = Visitor(engine, "capped-00001")
    for n in range(5):
        v.page(f"{SHOP}/p{n}")
    (action,) = v.actions
    v.page(f"{SHOP}/p6")  # not reported shown yet: the rule may be sent again
    assert len(v.actions) == 2
    v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
    v.actions.clear()
    v.page(f"{SHOP}/p7")
    assert v.actions == []  # once_per_session, and the widget reported the show


def test_stop_after_click_holds_across_visits_and_the_cap_window(engine: Engine) -> None:
    v = Visitor(engine, "stopper-0001")
    landing = f"{SHOP}/?gclid=abc"
    v.page(landing, referrer="https://www.google.com/")
    engine.clock.advance(2 * HOUR)
    v.page(landing, referrer="https://www.google.com/")
    (action,) = v.actions
    v.send("report", {"action": action["id"], "rule": action["rule"], "what": "shown"})
    v.send("report", {"action": action["id"], "rule": action["rule"], "what": "clicked"})
    v.actions.clear()
    engine.clock.advance(8 * DAY)  # past the {max: 1, per: 7d} window
    v.page(landing, referrer="https://www.google.com/")
    assert v.actions == []  # stop_after: [click, close]
