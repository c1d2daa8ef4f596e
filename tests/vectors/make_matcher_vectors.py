"""Writes matcher.json: language-agnostic test vectors for any Ondo evaluator.

Each case: a rule file (text), a flat profile, a trigger and the rule ids
expected, in order. The expectations are written here by hand from DESIGN's
semantics; tests/engine/test_matcher.py checks every implementation against
them. Run: python tests/vectors/make_matcher_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

NOW = 1_790_000_000
DAY = 86_400


def one(cond: str) -> str:
    return ("site: vectors\nrules:\n  - id: r\n    if: " + json.dumps(cond, ensure_ascii=False)
            + "\n    do: {widget: push_note, title: t}\n")


CASES: list[tuple[str, str, dict[str, object], bool]] = [
    ("eq number", "visit_count == 3", {"visit_count": 3}, True),
    ("eq number as float", "visit_count == 3", {"visit_count": 3.0}, True),
    ("eq number false", "visit_count == 3", {"visit_count": 4}, False),
    ("ne number", "visit_count != 3", {"visit_count": 4}, True),
    ("ne missing is false", "visit_count != 3", {}, False),
    ("lt", "cart_total < 3만", {"cart_total": 29_999}, True),
    ("le boundary", "cart_total <= 3만", {"cart_total": 30_000}, True),
    ("gt boundary", "cart_total > 3만", {"cart_total": 30_000}, False),
    ("ge korean units", "purchase_total >= 1.5만", {"purchase_total": 15_000}, True),
    ("negative numbers", "cart_total > -1", {"cart_total": 0}, True),
    ("flipped comparison", "10 <= visit_count", {"visit_count": 10}, True),
    ("between inclusive low", "cart_total between 20000 and 49999", {"cart_total": 20_000}, True),
    ("between inclusive high", "cart_total between 20000 and 49999", {"cart_total": 49_999}, True),
    ("between outside", "cart_total between 20000 and 49999", {"cart_total": 50_000}, False),
    ("in numbers", "visit_count in [1, 2, 3]", {"visit_count": 2}, True),
    ("not in numbers", "visit_count not in [1, 2, 3]", {"visit_count": 4}, True),
    ("not in missing is false", "visit_count not in [1]", {}, False),
    ("eq string korean", 'member_name == "김단골"', {"member_name": "김단골"}, True),
    ("eq string is case-sensitive", 'member_grade == "vip"', {"member_grade": "VIP"}, False),
    ("ne string", 'member_grade != "vip"', {"member_grade": "gold"}, True),
    ("in strings", 'traffic_source in ["naver_ads", "kakao_ads"]',
     {"traffic_source": "kakao_ads"}, True),
    ("not in strings", 'traffic_source not in ["naver_ads"]', {"traffic_source": "direct"}, True),
    ("string no rule mentions", 'traffic_source == "naver_ads"',
     {"traffic_source": "email"}, False),
    ("contains substring", 'page_url contains "utm_"',
     {"page_url": "https://s.kr/?utm_source=naver"}, True),
    ("contains in set", 'tags contains "vip"', {"tags": ["new", "vip"]}, True),
    ("contains in empty set", 'tags contains "vip"', {"tags": []}, False),
    ("matches glob", 'page_path matches "/product/*"', {"page_path": "/product/123/가방"}, True),
    ("matches glob whole path", 'page_path matches "/product/*"', {"page_path": "/x/product/1"},
     False),
    ("matches question mark", 'page_path matches "/p?"', {"page_path": "/p1"}, True),
    ("starts_with", 'landing_url starts_with "https://"', {"landing_url": "https://s.kr"}, True),
    ("bool attribute", "is_member", {"is_member": True}, True),
    ("bool false", "is_member", {"is_member": False}, False),
    ("not missing bool", "not is_member", {}, True),
    ("bool eq false", "is_member == false", {"is_member": False}, True),
    ("not eq missing", 'not member_grade == "vip"', {}, True),
    ("exists present", "exists(member_grade)", {"member_grade": "gold"}, True),
    ("exists missing", "exists(member_grade)", {}, False),
    ("has_coupon valid", 'has_coupon("LOYAL15")', {"coupons": {"LOYAL15": NOW + DAY}, "now": NOW},
     True),
    ("has_coupon expired", 'has_coupon("LOYAL15")',
     {"coupons": {"LOYAL15": NOW - 1}, "now": NOW}, False),
    ("has_coupon other code", 'has_coupon("LOYAL15")', {"coupons": {"X": NOW + DAY}, "now": NOW},
     False),
    ("expires within any", "coupon_expires_within(3d)",
     {"coupons": {"X": NOW + 2 * DAY}, "now": NOW}, True),
    ("expires within boundary", "coupon_expires_within(3d)",
     {"coupons": {"X": NOW + 3 * DAY}, "now": NOW}, True),
    ("expires later", "coupon_expires_within(3d)", {"coupons": {"X": NOW + 4 * DAY}, "now": NOW},
     False),
    ("expires within code", 'coupon_expires_within("Y", 3d)',
     {"coupons": {"X": NOW + DAY, "Y": NOW + 9 * DAY}, "now": NOW}, False),
    ("in_cart", 'in_cart("P-1")', {"cart_items": ["P-1", "P-2"]}, True),
    ("in_cart empty", 'in_cart("P-1")', {"cart_items": []}, False),
    ("param eq", 'param("utm_source") == "naver"', {"params": {"utm_source": "naver"}}, True),
    ("param missing key", 'param("utm_source") != "naver"', {"params": {}}, False),
    ("param matches", 'param("q") matches "*가방*"', {"params": {"q": "여름 가방 세일"}}, True),
    ("duration", "session_seconds > 10m", {"session_seconds": 601}, True),
    ("precedence", "is_member or visit_count > 5 and cart_total > 0",
     {"is_member": True, "visit_count": 1}, True),
    ("parentheses", "(is_member or visit_count > 5) and cart_total > 0",
     {"is_member": True, "visit_count": 1}, False),
    ("huge number", "purchase_total >= 1_000_000_000_000", {"purchase_total": 10**15}, True),
]

MULTI = """site: vectors
rules:
  - {id: low, if: visit_count >= 1, do: {widget: push_note, title: a}}
  - {id: high, priority: 9, if: visit_count >= 1, do: {widget: popcorn_button, text: b}}
  - {id: cart, on: [cart], if: cart_total > 0, do: {widget: round_floating, text: c}}
  - {id: both, on: [pageview, cart], if: cart_total > 0, do: {widget: bookmark_prompt, text: d}}
  - {id: off, enabled: false, if: visit_count >= 1, do: {widget: push_note, title: e}}
"""


def main() -> None:
    vectors = [{"name": name, "rules": one(cond), "profile": profile, "trigger": "pageview",
                "expect": ["r"] if expected else []} for name, cond, profile, expected in CASES]
    vectors += [
        {"name": "priority then file order", "rules": MULTI, "trigger": "pageview",
         "profile": {"visit_count": 2, "cart_total": 10}, "expect": ["high", "low", "both"]},
        {"name": "trigger cart", "rules": MULTI, "trigger": "cart",
         "profile": {"visit_count": 2, "cart_total": 10}, "expect": ["cart", "both"]},
    ]
    path = Path(__file__).with_name("matcher.json")
    path.write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
