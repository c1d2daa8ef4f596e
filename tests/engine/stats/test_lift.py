"""Did the rule work? The statistics of a holdout, checked against published worked
examples, against simulated experiments, and by properties that hold for any counts."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.stats.lift import (
    Group,
    Lift,
    Verdict,
    lift,
    rate_difference,
    rate_ratio,
    revenue_difference,
    visitors_needed,
)

Z95 = 1.959963984540054  # the two-sided 95% normal quantile

# Newcombe (1998), "Interval estimation for the difference between independent
# proportions: comparison of eleven methods", Table II, method 10 (the hybrid score
# interval, no continuity correction): its eight worked examples, as 95% limits.
NEWCOMBE_TABLE_II = [
    ((56, 70), (48, 80), 0.0524, 0.3339),
    ((9, 10), (3, 10), 0.1705, 0.8090),
    ((6, 7), (2, 7), 0.0582, 0.8062),
    ((5, 56), (0, 29), -0.0381, 0.1926),
    ((0, 10), (0, 20), -0.1611, 0.2775),
    ((0, 10), (0, 10), -0.2775, 0.2775),
    ((10, 10), (0, 20), 0.6791, 1.0000),
    ((10, 10), (0, 10), 0.6075, 1.0000),
]


def group(converted: int, visitors: int) -> Group:
    return Group(visitors=visitors, converted=converted)


# -- the intervals, against published values ------------------------------------------


@pytest.mark.parametrize(("treated", "control", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombes_worked_examples(treated: tuple[int, int], control: tuple[int, int],
                                   low: float, high: float) -> None:
    interval = rate_difference(group(*treated), group(*control))
    assert interval is not None
    assert interval.estimate == pytest.approx(treated[0] / treated[1] - control[0] / control[1])
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_the_relative_lift_is_the_katz_log_interval() -> None:
    # scipy's relative_risk example: 27 of 122 exposed, 44 of 487 controls.
    interval = rate_ratio(group(27, 122), group(44, 487))
    assert interval is not None
    rr = (27 / 122) / (44 / 487)
    se = math.sqrt(1 / 27 - 1 / 122 + 1 / 44 - 1 / 487)
    assert interval.estimate == pytest.approx(rr - 1)
    assert interval.low == pytest.approx(rr * math.exp(-Z95 * se) - 1)
    assert interval.high == pytest.approx(rr * math.exp(Z95 * se) - 1)
    assert (round(interval.low + 1, 4), round(interval.high + 1, 4)) == (1.5837, 3.7887)


def test_the_sample_size_is_the_one_r_power_prop_test_finds() -> None:
    # The examples in R's power.prop.test: n per group, unrounded.
    assert visitors_needed(0.50, 0.75, power=0.90) == pytest.approx(76.7, abs=0.05)
    assert visitors_needed(0.90, 1.00, power=0.80) == pytest.approx(73.37, abs=0.005)
    assert math.ceil(visitors_needed(0.5, 0.501, confidence=0.999, power=0.90)) == 10_451_937


def test_revenue_per_visitor_is_welchs_interval_over_every_visitor() -> None:
    # Ten treated visitors of whom three bought once; ten controls, two bought once.
    treated_orders, control_orders = [10_000, 25_000, 40_000], [12_000, 30_000]
    treated = Group(visitors=10, converted=3, conversions=3, revenue=sum(treated_orders),
                    revenue_sq=sum(x * x for x in treated_orders))
    control = Group(visitors=10, converted=2, conversions=2, revenue=sum(control_orders),
                    revenue_sq=sum(x * x for x in control_orders))
    per_visitor_t = treated_orders + [0] * 7
    per_visitor_c = control_orders + [0] * 8
    assert treated.revenue_variance == pytest.approx(statistics.variance(per_visitor_t))
    se = math.sqrt((statistics.variance(per_visitor_t) + statistics.variance(per_visitor_c)) / 10)
    interval = revenue_difference(treated, control)
    assert interval is not None
    assert interval.estimate == 7_500 - 4_200
    assert interval.low == pytest.approx(3_300 - Z95 * se)
    assert interval.high == pytest.approx(3_300 + Z95 * se)


def test_a_repeat_buyer_understates_the_spread_but_never_below_zero() -> None:
    # One visitor of two bought three times 100 won: really (300, 0), a variance of
    # 45,000; counted as orders, three squares of 100 make it look like none at all.
    assert Group(visitors=2, converted=1, conversions=3, revenue=300,
                 revenue_sq=30_000).revenue_variance == 0


# -- coverage, by simulation ----------------------------------------------------------


@pytest.mark.parametrize(("treated_n", "control_n", "p_treated", "p_control"), [
    (18_000, 2_000, 0.06, 0.05),  # a 10% holdout
    (500, 500, 0.03, 0.02),  # small groups and rare buyers, where the Wald interval fails
])
def test_the_intervals_cover_the_truth_95_times_in_100(
        treated_n: int, control_n: int, p_treated: float, p_control: float) -> None:
    rng = np.random.default_rng(20261118)
    experiments = 1_000
    absolute = relative = 0
    for t, c in zip(rng.binomial(treated_n, p_treated, experiments),
                    rng.binomial(control_n, p_control, experiments), strict=True):
        treated, control = group(int(t), treated_n), group(int(c), control_n)
        difference, ratio = rate_difference(treated, control), rate_ratio(treated, control)
        assert difference is not None and ratio is not None
        absolute += (p_treated - p_control) in difference
        relative += (p_treated / p_control - 1) in ratio
    assert 0.93 <= absolute / experiments <= 0.97
    assert 0.93 <= relative / experiments <= 0.97
    # With only a handful of buyers a group (200 visitors at 2-3%), both intervals
    # turn conservative: about 97% and 98% in this simulation, on the safe side.


# -- verdicts and what they say ---------------------------------------------------------


def test_a_clear_lift() -> None:
    result = lift(group(600, 10_000), group(500, 10_000))
    assert result.verdict == "lift"
    assert result.more_visitors_needed is None
    assert result.summary() == "lifts conversion by 0.4–1.6 points (relative +6.9% to +34.7%)"


def test_a_clear_drop() -> None:
    result = lift(group(500, 10_000), group(600, 10_000))
    assert result.verdict is Verdict.DROP
    assert result.summary() == "lowers conversion by 0.4–1.6 points (relative -25.7% to -6.5%)"


def test_no_difference_with_enough_visitors_is_no_measurable_lift() -> None:
    result = lift(group(2_500, 50_000), group(2_500, 50_000))
    assert result.verdict is Verdict.NO_MEASURABLE_LIFT
    assert result.summary() == "no measurable lift: between -0.3 and +0.3 points"


def test_no_difference_yet_asks_for_enough_visitors_to_see_a_tenth_of_the_baseline() -> None:
    # 5% vs 5.5% (a 10% relative effect) needs 31,234 visitors per group.
    result = lift(group(500, 10_000), group(500, 10_000))
    assert result.verdict is Verdict.NOT_ENOUGH_DATA
    assert result.more_visitors_needed == 31_234 - 10_000
    assert result.summary() == (
        "not enough data yet: about 22,000 more exposed visitors needed per group")
    # Caring only about a 20% effect (5% vs 6%), 10,000 visitors a group are enough.
    looser = lift(group(500, 10_000), group(500, 10_000), min_relative_effect=0.2)
    assert looser.verdict is Verdict.NO_MEASURABLE_LIFT


def test_the_smaller_group_sets_the_shortfall() -> None:
    holdout = lift(group(4_500, 90_000), group(500, 10_000))
    assert holdout.more_visitors_needed == 31_234 - 10_000


def test_tiny_samples_are_not_enough_even_when_the_rates_look_far_apart() -> None:
    result = lift(group(3, 20), group(1, 20))
    assert result.verdict is Verdict.NOT_ENOUGH_DATA
    assert result.more_visitors_needed == 121
    assert result.summary() == (
        "not enough data yet: about 130 more exposed visitors needed per group")
    assert result.absolute is not None  # the interval is still there to show
    assert 0 in result.absolute


def test_zero_control_buyers_still_has_an_absolute_lift_but_no_relative_one() -> None:
    result = lift(group(10, 500), group(0, 500))
    assert result.verdict is Verdict.LIFT
    assert result.relative is None
    assert result.unavailable()["relative"] == "no buyers in the control group"
    assert result.summary() == ("lifts conversion by 0.8–3.6 points "
                                "(relative change unavailable: no buyers in the control group)")


def test_no_buyers_on_either_side_gives_no_baseline() -> None:
    result = lift(group(0, 5_000), group(0, 5_000))
    assert result.verdict is Verdict.NOT_ENOUGH_DATA
    assert result.more_visitors_needed is None
    assert result.summary() == ("not enough data yet: no buyers in either group, "
                                "so no baseline conversion rate to size the test against")
    assert result.unavailable()["relative"] == "no buyers in either group"


def test_no_visitors() -> None:
    empty = lift(group(0, 0), group(0, 0))
    assert empty.verdict is Verdict.NOT_ENOUGH_DATA
    assert empty.summary() == "not enough data yet: no exposed visitors in either group"
    assert empty.absolute is empty.relative is empty.revenue_per_visitor is None
    # A control group with buyers is a baseline: the treated group has all to come.
    waiting = lift(group(0, 0), group(500, 10_000))
    assert waiting.more_visitors_needed == 31_234
    assert waiting.unavailable()["absolute"] == "no exposed visitors in the treated group"


def test_every_visitor_buying_is_a_rate_like_any_other() -> None:
    result = lift(group(10, 10), group(0, 20))
    assert result.absolute is not None
    assert (round(result.absolute.low, 4), result.absolute.high) == (0.6791, 1.0)
    both = lift(group(10, 10), group(20, 20))
    assert both.relative is None  # the log interval would have no width
    assert both.unavailable()["relative"] == "every visitor bought in both groups"


def test_buyers_above_visitors_are_clamped() -> None:
    # HyperLogLog estimates of a tiny group: 4 buyers "among" 3 visitors.
    assert Group(visitors=3, converted=4).converted == 3
    assert Group(visitors=3, converted=4).rate == 1.0


@pytest.mark.parametrize("field", ["visitors", "converted", "conversions", "revenue",
                                   "revenue_sq"])
def test_a_negative_count_names_its_field(field: str) -> None:
    counts = {"visitors": 10, "converted": 1, field: -1}
    with pytest.raises(ValueError, match=f"Group.{field} cannot be negative, got -1"):
        Group(**counts)


def test_counts_are_ints() -> None:
    with pytest.raises(TypeError, match=r"Group.visitors must be an int, got 10.0"):
        Group(visitors=10.0, converted=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("option", "value"), [
    ("confidence", 1.0), ("confidence", 0.0), ("power", 1.0), ("power", 0.3),
    ("power", math.nan), ("min_relative_effect", 0.0), ("min_relative_effect", 1e-300),
    ("min_relative_effect", math.inf)])
def test_options_out_of_range_name_themselves(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        lift(group(1, 10), group(1, 10), **{option: value})


def test_as_json() -> None:
    treated = Group(visitors=10_000, converted=600, conversions=650, revenue=39_000_000,
                    revenue_sq=650 * 60_000**2)
    control = Group(visitors=10_000, converted=500, conversions=520, revenue=31_200_000,
                    revenue_sq=520 * 60_000**2)
    data = lift(treated, control).as_json()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["verdict"] == "lift"
    assert data["summary"].startswith("lifts conversion by 0.4–1.6 points")
    assert data["confidence"] == 0.95
    assert data["more_visitors_needed"] is None
    assert set(data["absolute"]) == {"estimate", "low", "high"}
    assert data["revenue_per_visitor"]["estimate"] == pytest.approx(3_900 - 3_120)
    assert data["unavailable"] == {}
    assert data["treated"] == {"visitors": 10_000, "converted": 600, "conversions": 650,
                               "revenue": 39_000_000, "rate": 0.06,
                               "revenue_per_visitor": 3_900.0}


# -- properties, for any counts -------------------------------------------------------


@st.composite
def groups(draw: st.DrawFn) -> Group:
    visitors = draw(st.one_of(st.integers(0, 40), st.integers(0, 2_000_000)))
    converted = draw(st.integers(0, visitors + 2))  # a little above: HyperLogLog overshoot
    orders = draw(st.integers(converted, 3 * converted))
    revenue = draw(st.integers(0, orders * 500_000))
    return Group(visitors=visitors, converted=converted, conversions=orders, revenue=revenue,
                 revenue_sq=draw(st.integers(0, revenue * 500_000)))


CONFIDENCE = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@settings(deadline=None, max_examples=300)
@given(groups(), groups(), CONFIDENCE, st.floats(0.5, 0.99), st.floats(0.001, 5.0))
def test_any_counts_give_ordered_intervals_and_a_consistent_verdict(
        treated: Group, control: Group, confidence: float, power: float,
        min_relative_effect: float) -> None:
    result = lift(treated, control, confidence=confidence, power=power,
                  min_relative_effect=min_relative_effect)
    for interval in (result.absolute, result.relative, result.revenue_per_visitor):
        if interval is not None:
            assert interval.low <= interval.estimate <= interval.high
    if result.absolute is not None:
        assert -1 <= result.absolute.low <= result.absolute.high <= 1
    assert set(result.unavailable()) == {
        name for name in ("absolute", "relative", "revenue_per_visitor")
        if getattr(result, name) is None}
    assert json.dumps(result.as_json(), allow_nan=False)
    assert_verdict_matches(result)


def assert_verdict_matches(result: Lift) -> None:
    if result.more_visitors_needed is not None:
        assert result.verdict is Verdict.NOT_ENOUGH_DATA
        assert result.more_visitors_needed >= 1
    if result.verdict is not Verdict.NOT_ENOUGH_DATA:
        assert result.absolute is not None
        assert {Verdict.LIFT: result.absolute.low > 0, Verdict.DROP: result.absolute.high < 0,
                Verdict.NO_MEASURABLE_LIFT: 0 in result.absolute}[result.verdict]


@settings(deadline=None, max_examples=200)
@given(groups(), groups(), CONFIDENCE)
def test_swapping_the_groups_negates_the_difference(treated: Group, control: Group,
                                                    confidence: float) -> None:
    forward = rate_difference(treated, control, confidence=confidence)
    backward = rate_difference(control, treated, confidence=confidence)
    if forward is None or backward is None:
        assert forward is backward is None
        return
    assert backward.estimate == pytest.approx(-forward.estimate, abs=1e-12)
    assert backward.low == pytest.approx(-forward.high, abs=1e-12)
    assert backward.high == pytest.approx(-forward.low, abs=1e-12)
