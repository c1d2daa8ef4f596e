"""The compiled form: deduplicated predicates, programs, normalised options,
byte-identical output and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules
from rules.errors import RuleFileError
from rules.limits import MAX_RULES
from rules.ruleset import Code, Frequency, Op, Predicate, Recommend, Ruleset, Schedule

SEED = Path(__file__).resolve().parents[2] / "rules" / "library" / "seed-recipes.yaml"


def test_same_predicates_are_stored_once_across_rules_and_segments() -> None:
    ruleset = rules.load("""site: s
segments:
  regular: visit_count >= 10
rules:
  - {id: a, if: regular and is_member, do: {widget: push_note, title: a}}
  - {id: b, if: 10 <= visit_count and not is_member, do: {widget: bookmark_prompt, text: b}}
""")
    assert ruleset.predicates == (Predicate("visit_count", Op.GE, 10),
                                  Predicate("is_member", Op.IS_TRUE))
    assert ruleset.rules[0].program == (0, 1, Code.AND)
    assert ruleset.rules[1].program == (0, 1, Code.NOT, Code.AND)


def test_segments_may_name_segments_and_each_is_lowered_once() -> None:
    ruleset = rules.load("""site: s
segments:
  loyal: regular and purchase_total >= 30만
  regular: visit_count >= 10
rules:
  - {id: a, if: loyal or regular and is_member, do: {widget: push_note, title: a}}
""")
    # Each segment comes after those it names; `regular` is stored once.
    assert ruleset.predicates == (Predicate("visit_count", Op.GE, 10),
                                  Predicate("purchase_total", Op.GE, 300000),
                                  Predicate("is_member", Op.IS_TRUE))
    assert ruleset.rules[0].program == (0, 1, Code.AND, 0, 2, Code.AND, Code.OR)


def test_chains_are_left_associative_and_groups_keep_their_shape() -> None:
    ruleset = rules.load("""site: s
rules:
  - id: a
    if: is_member and is_first_visit and visit_count > 1
    do: {widget: push_note, title: a}
  - id: b
    if: is_member and (is_first_visit and visit_count > 1)
    do: {widget: push_note, title: b}
""")
    assert ruleset.rules[0].program == (0, 1, Code.AND, 2, Code.AND)
    assert ruleset.rules[1].program == (0, 1, 2, Code.AND, Code.AND)


def test_constants_are_normalised() -> None:
    ruleset = rules.load("""site: s
rules:
  - id: a
    if: traffic_source in ["naver_ads", "direct", "naver_ads"] and cart_total between 2만 and 5만
      and session_seconds > 10m and coupon_expires_within(3d) and in_cart("P1")
      and param("utm_source") == "naver"
    do: {widget: push_note, title: a}
""")
    assert ruleset.predicates == (
        Predicate("traffic_source", Op.IN, ["direct", "naver_ads"]),
        Predicate("cart_total", Op.BETWEEN, [20000, 50000]),
        Predicate("session_seconds", Op.GT, 600),
        Predicate("coupons", Op.EXPIRES_WITHIN, [None, 259200]),
        Predicate("cart_items", Op.CONTAINS, "P1"),
        Predicate("params", Op.EQ, "naver", "utm_source"),
    )


def test_constant_conditions_fold() -> None:
    ruleset = rules.load("""site: s
rules:
  - {id: always, do: {widget: push_note, title: a}}
  - {id: never, if: is_member and false, do: {widget: bookmark_prompt, text: b}}
""")
    assert ruleset.rules[0].program == (Code.TRUE,)
    assert ruleset.rules[1].program == (Code.FALSE,)


def test_delivery_options_are_normalised() -> None:
    ruleset = rules.load(SEED)
    by_id = {r.id: r for r in ruleset.rules}
    assert by_id["loyal-coupon"].frequency == Frequency(1, "day")
    assert by_id["loyal-coupon"].action.login_required
    assert by_id["upsell-free-shipping"].frequency == Frequency(1, "session")  # the default
    assert by_id["upsell-free-shipping"].triggers == ("pageview", "cart")
    assert by_id["bookmark-ad-returners"].frequency == Frequency(1, "window", 604800)
    assert by_id["bookmark-ad-returners"].stop_after == ("click", "close")
    assert ruleset.timezone == "Asia/Seoul"


@pytest.mark.parametrize(("line", "timezone"), [("timezone: UTC\n", "UTC"), ("", None)])
def test_the_time_zone_is_the_files_or_none(line: str, timezone: str | None) -> None:
    # None: the engine's site config gives the zone.
    ruleset = rules.load("site: s\n" + line + "rules:\n"
                         "  - {id: a, do: {widget: bookmark_prompt, text: a}}\n")
    assert ruleset.timezone == timezone
    assert Ruleset.loads(ruleset.dumps()) == ruleset
    assert Ruleset.loads(ruleset.dumps()).timezone == timezone


def test_schedule_hours_may_cross_midnight() -> None:
    ruleset = rules.load("""site: s
rules:
  - id: a
    do: {widget: push_note, title: a}
    schedule: {from: "2026-12-01", until: "2026-12-25 18:00", weekdays: fri-mon,
               hours: ["22:00-02:00", "12:00-13:30"]}
""")
    assert ruleset.rules[0].schedule == Schedule(
        "2026-12-01T00:00", "2026-12-25T18:00", ("mon", "fri", "sat", "sun"),
        ((1320, 120), (720, 810)))


def test_compiling_twice_gives_the_same_bytes_and_version() -> None:
    text = SEED.read_text(encoding="utf-8")
    first, second = rules.load(text), rules.load(text)
    assert first.dumps() == second.dumps()
    assert first.version == second.version
    assert Ruleset.loads(first.dumps()) == first
    changed = rules.load(text.replace("30만", "40만"))
    assert changed.version != first.version


def test_too_many_rules_is_a_clear_limit_error() -> None:
    body = "".join(f"  - {{id: r{i}, do: {{widget: push_note, title: t}}}}\n"
                   for i in range(MAX_RULES + 1))
    with pytest.raises(RuleFileError) as info:
        rules.load("site: s\nrules:\n" + body)
    assert "too many rules: 20,001 (limit 20,000)" in info.value.errors[0].message


def test_a_large_generated_file_compiles() -> None:
    body = "".join(
        f"  - id: r{i}\n    if: visit_count >= {i % 50} and cart_total > {i * 100}\n"
        f"    do: {{widget: push_note, title: \"t{i}\"}}\n" for i in range(3000))
    ruleset = rules.load("site: s\nrules:\n" + body)
    assert len(ruleset.rules) == 3000
    assert len(ruleset.predicates) == 50 + 3000


def test_a_file_over_8_mib_is_refused() -> None:
    with pytest.raises(RuleFileError) as info:
        rules.load("site: s\n#" + "x" * (8 * 1024 * 1024))
    assert "file too large" in info.value.errors[0].message


def test_event_prop_reads_a_track_events_property_as_text() -> None:
    ruleset = rules.load("""site: s
rules:
  - id: a
    on: track
    if: event_name == "wishlist" and event_prop("category") in ["bags", "shoes"]
    do: {widget: push_note, title: a}
""")
    assert Predicate("event_props", Op.IN, ["bags", "shoes"], "category") in ruleset.predicates


@pytest.mark.parametrize(("condition", "message"), [
    ('event_prop("price") > 3', "'>' compares numbers; 'event_prop(\"price\")' is a string"),
    ('event_prop("price")', "event_prop(name) is a value, not a condition"),
    ("event_props", "'event_props' cannot be read directly"),
])
def test_event_prop_mistakes_are_named(condition: str, message: str) -> None:
    with pytest.raises(RuleFileError) as info:
        rules.load(f"site: s\nrules:\n  - id: a\n    on: track\n    if: '{condition}'\n"
                   "    do: {widget: push_note, title: a}\n")
    assert info.value.errors[0].message == message


def test_recommend_compiles_with_its_defaults() -> None:
    ruleset = rules.load("""site: s
rules:
  - id: a
    do: {widget: push_note, title: t, recommend: {kind: bought_together}}
  - id: b
    do: {widget: round_floating, text: t, recommend: {kind: bought_together, of: cart, count: 6}}
""")
    assert [r.action.recommend for r in ruleset.rules] == [
        Recommend("bought_together", "product", 3), Recommend("bought_together", "cart", 6)]
    assert rules.Ruleset.loads(ruleset.dumps()) == ruleset


@pytest.mark.parametrize(("recommend", "message", "hint"), [
    ("{kind: bought_together}", "bookmark_prompt cannot show product cards",
     "recommend on a push_note, round_floating, popcorn_button"),
    ("{kind: bought_togther}", "unknown kind 'bought_togther'", "did you mean 'bought_together'?"),
    ("{kind: bought_together, of: page}", "unknown of 'page'", "of: product | cart"),
    ("{kind: bought_together, count: 9}", "count must be between 1 and 6, found 9", ""),
    ("{of: cart}", "recommend needs a kind", "kind: bought_together"),
])
def test_recommend_mistakes_are_named(recommend: str, message: str, hint: str) -> None:
    widget = "bookmark_prompt, text: t" if "bookmark" in message else "push_note, title: t"
    with pytest.raises(RuleFileError) as info:
        rules.load(f"site: s\nrules:\n  - id: a\n    do: {{widget: {widget}, "
                   f"recommend: {recommend}}}\n")
    error = info.value.errors[0]
    assert (error.message, error.hint) == (message, hint)
