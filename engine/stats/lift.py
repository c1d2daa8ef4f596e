"""Did the rule work? The conversion and revenue of a treated group against a control
group, as intervals and a verdict (pure; docs/stats.md, "Did the rule work?").

The decisions, in order:

1. Counts are checked once, in ``Group``: a negative count is a ``ValueError`` naming
   the field; ``converted`` above ``visitors`` is clamped to ``visitors`` (both are
   HyperLogLog estimates, and for a tiny group the buyers' estimate can overshoot).
2. The absolute difference of the conversion rates gets Newcombe's hybrid score
   interval (method 10 of Newcombe 1998), built from the two Wilson score intervals.
   None when a group has no visitors.
3. The relative lift (treated rate / control rate - 1) gets the Katz log interval.
   None when either group has no buyers (the log interval does not exist there) or
   every visitor bought in both (it would have no width).
4. The difference in revenue per visitor gets an unpooled (Welch) normal interval.
   None when a group has fewer than two visitors or revenue does not vary at all.
5. The verdict: NOT_ENOUGH_DATA while no group has a buyer (no baseline rate to size
   the test against) or while either group is smaller than the sample size needed to
   detect the larger of the observed difference and ``min_relative_effect`` of the
   baseline (the control rate, or the treated rate while the control group has no
   buyer); then NO_MEASURABLE_LIFT when the absolute interval contains 0, else LIFT or
   DROP by its sign.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import Any

from scipy.stats import binomtest, norm  # type: ignore[import-untyped]
from scipy.stats.contingency import relative_risk  # type: ignore[import-untyped]


class Verdict(enum.StrEnum):
    NOT_ENOUGH_DATA = "not_enough_data"
    NO_MEASURABLE_LIFT = "no_measurable_lift"
    LIFT = "lift"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Group:
    """One side of a comparison, counted over a date range.

    ``visitors``: distinct exposed visitors; ``converted``: distinct visitors who
    bought within the attribution window after exposure (clamped to ``visitors``);
    ``conversions``: their orders; ``revenue`` and ``revenue_sq``: the sum of the
    order amounts and of their squares, in won."""

    visitors: int
    converted: int
    conversions: int = 0
    revenue: int = 0
    revenue_sq: int = 0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Group.{field.name} must be an int, got {value!r}")
            if value < 0:
                raise ValueError(f"Group.{field.name} cannot be negative, got {value}")
        if self.converted > self.visitors:
            object.__setattr__(self, "converted", self.visitors)

    @property
    def rate(self) -> float | None:
        return self.converted / self.visitors if self.visitors else None

    @property
    def revenue_per_visitor(self) -> float | None:
        return self.revenue / self.visitors if self.visitors else None

    @property
    def revenue_variance(self) -> float | None:
        """The sample variance of one visitor's revenue, non-buyers counting as 0.

        Each order is taken as one visitor's whole revenue: a visitor who bought
        twice counts as two smaller squares, so the spread is a little understated
        (and clamped at 0 if that makes it negative). None below two visitors."""
        n = self.visitors
        if n < 2:
            return None
        return max(0, n * self.revenue_sq - self.revenue**2) / (n * (n - 1))

    def as_json(self) -> dict[str, Any]:
        return {"visitors": self.visitors, "converted": self.converted,
                "conversions": self.conversions, "revenue": self.revenue,
                "rate": self.rate, "revenue_per_visitor": self.revenue_per_visitor}


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_json(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Lift:
    """The comparison of ``treated`` against ``control``, at ``confidence``.

    ``absolute``: treated rate - control rate (0.012 is 1.2 points); ``relative``:
    treated rate / control rate - 1; ``revenue_per_visitor``: treated - control, in
    won; ``more_visitors_needed``: per group, while the verdict is NOT_ENOUGH_DATA and
    a baseline rate exists to size the test against."""

    treated: Group
    control: Group
    absolute: Interval | None
    relative: Interval | None
    revenue_per_visitor: Interval | None
    verdict: Verdict
    more_visitors_needed: int | None
    confidence: float = 0.95

    def summary(self) -> str:
        """One plain English sentence for the console."""
        a = self.absolute
        if self.verdict is Verdict.NOT_ENOUGH_DATA or a is None:
            return f"not enough data yet: {self._missing_data()}"
        if self.verdict is Verdict.NO_MEASURABLE_LIFT:
            return (f"no measurable lift: between {_points(a.low, signed=True)} "
                    f"and {_points(a.high, signed=True)} points")
        if self.verdict is Verdict.LIFT:
            span = f"{_points(a.low)}–{_points(a.high)}"
            return f"lifts conversion by {span} points{self._relative_note()}"
        span = f"{_points(-a.high)}–{_points(-a.low)}"
        return f"lowers conversion by {span} points{self._relative_note()}"

    def unavailable(self) -> dict[str, str]:
        """Why each interval that is None is missing, by field name."""
        t, c = self.treated, self.control
        reasons: dict[str, str] = {}
        if self.absolute is None:
            reasons["absolute"] = f"no exposed visitors in {_lacking(t.visitors, c.visitors)}"
        if self.relative is None:
            reasons["relative"] = reasons.get("absolute") or (
                "every visitor bought in both groups" if _all_bought(t, c)
                else f"no buyers in {_lacking(t.converted, c.converted)}")
        if self.revenue_per_visitor is None:
            small = _lacking(t.visitors >= 2, c.visitors >= 2)
            reasons["revenue_per_visitor"] = (
                f"fewer than 2 exposed visitors in {small}" if small
                else "revenue per visitor does not vary in either group")
        return reasons

    def as_json(self) -> dict[str, Any]:
        def interval(value: Interval | None) -> dict[str, float] | None:
            return value.as_json() if value is not None else None

        return {"verdict": self.verdict.value, "summary": self.summary(),
                "confidence": self.confidence,
                "more_visitors_needed": self.more_visitors_needed,
                "absolute": interval(self.absolute), "relative": interval(self.relative),
                "revenue_per_visitor": interval(self.revenue_per_visitor),
                "unavailable": self.unavailable(),
                "treated": self.treated.as_json(), "control": self.control.as_json()}

    def _missing_data(self) -> str:
        if self.more_visitors_needed is not None:
            about = _about(self.more_visitors_needed)
            return f"about {about:,} more exposed visitors needed per group"
        empty = _lacking(self.treated.visitors, self.control.visitors)
        if empty:
            return f"no exposed visitors in {empty}"
        return "no buyers in either group, so no baseline conversion rate to size the test against"

    def _relative_note(self) -> str:
        r = self.relative
        if r is None:
            return f" (relative change unavailable: {self.unavailable()['relative']})"
        return f" (relative {_percent(r.low)} to {_percent(r.high)})"


def lift(treated: Group, control: Group, *, confidence: float = 0.95, power: float = 0.8,
         min_relative_effect: float = 0.1) -> Lift:
    """Compare ``treated`` with ``control``: the three intervals at ``confidence`` and
    the verdict (see the module docstring for the decisions, in order)."""
    _check_fraction("confidence", confidence)
    _check_power(power)
    if not 0.001 <= min_relative_effect < math.inf:  # below 0.1%, no store has the visitors
        raise ValueError(f"min_relative_effect must be at least 0.001, got {min_relative_effect!r}")
    absolute = rate_difference(treated, control, confidence=confidence)
    verdict, more = _verdict(treated, control, absolute, confidence, power, min_relative_effect)
    return Lift(treated, control, absolute, rate_ratio(treated, control, confidence=confidence),
                revenue_difference(treated, control, confidence=confidence), verdict, more,
                confidence)


def rate_difference(treated: Group, control: Group, *,
                    confidence: float = 0.95) -> Interval | None:
    """Treated rate - control rate, with Newcombe's hybrid score interval (method 10):
    each rate's distance to its own Wilson bound, combined in quadrature."""
    p1, p2 = treated.rate, control.rate
    if p1 is None or p2 is None:
        return None
    l1, u1 = _wilson(treated, confidence)
    l2, u2 = _wilson(control, confidence)
    d = p1 - p2
    low = d - math.hypot(p1 - l1, u2 - p2)
    high = d + math.hypot(u1 - p1, p2 - l2)
    return Interval(d, max(-1.0, low), min(1.0, high))


def rate_ratio(treated: Group, control: Group, *, confidence: float = 0.95) -> Interval | None:
    """Treated rate / control rate - 1, with the Katz log interval (the delta method on
    log(RR), z from the normal quantile). None unless both groups have a buyer, and
    when every visitor bought in both groups (the interval would have no width)."""
    if not (treated.converted and control.converted) or _all_bought(treated, control):
        return None
    rr = relative_risk(treated.converted, treated.visitors, control.converted, control.visitors)
    ci = rr.confidence_interval(confidence_level=confidence)
    return Interval(float(rr.relative_risk) - 1, float(ci.low) - 1, float(ci.high) - 1)


def revenue_difference(treated: Group, control: Group, *,
                       confidence: float = 0.95) -> Interval | None:
    """Treated - control revenue per visitor, in won, with Welch's unpooled normal
    interval: d ± z·sqrt(s1²/n1 + s2²/n2)."""
    v1, v2 = treated.revenue_variance, control.revenue_variance
    if v1 is None or v2 is None:
        return None
    se = math.sqrt(v1 / treated.visitors + v2 / control.visitors)
    if se == 0:
        return None
    d = treated.revenue / treated.visitors - control.revenue / control.visitors
    half = _z(confidence) * se
    return Interval(d, d - half, d + half)


def visitors_needed(p1: float, p2: float, *, confidence: float = 0.95,
                    power: float = 0.8) -> float:
    """Visitors per group (equal groups) for a two-sided test at ``confidence`` to tell
    rate ``p1`` from ``p2`` with probability ``power``: the normal-approximation formula
    that R's ``power.prop.test`` solves, unrounded."""
    for name, p in (("p1", p1), ("p2", p2)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be a rate between 0 and 1, got {p!r}")
    if p1 == p2:
        raise ValueError("p1 and p2 must differ: no sample size detects a zero effect")
    _check_fraction("confidence", confidence)
    _check_power(power)
    pbar = (p1 + p2) / 2
    spread = (_z(confidence) * math.sqrt(2 * pbar * (1 - pbar))
              + float(norm.ppf(power)) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    return spread**2 / (p1 - p2) ** 2


def _verdict(treated: Group, control: Group, absolute: Interval | None, confidence: float,
             power: float, min_relative_effect: float) -> tuple[Verdict, int | None]:
    # The baseline sizes the smallest effect worth detecting: the control rate, or the
    # treated rate while the control group has no buyer yet.
    baseline = control.rate if control.converted else treated.rate if treated.converted else None
    if baseline is None:
        return Verdict.NOT_ENOUGH_DATA, None
    p1 = control.rate if control.rate is not None else baseline
    observed = absolute.estimate if absolute is not None else 0.0
    effect = min(max(abs(observed), min_relative_effect * baseline), max(p1, 1 - p1))
    direction = 1.0 if observed >= 0 else -1.0
    if not 0 <= p1 + direction * effect <= 1:
        direction = -direction
    needed = math.ceil(visitors_needed(p1, p1 + direction * effect,
                                       confidence=confidence, power=power))
    shortfall = needed - min(treated.visitors, control.visitors)
    if shortfall > 0 or absolute is None:  # a group without visitors always falls short
        return Verdict.NOT_ENOUGH_DATA, shortfall
    if 0 in absolute:
        return Verdict.NO_MEASURABLE_LIFT, None
    return (Verdict.LIFT if absolute.low > 0 else Verdict.DROP), None


def _all_bought(treated: Group, control: Group) -> bool:
    return treated.converted == treated.visitors and control.converted == control.visitors


def _wilson(group: Group, confidence: float) -> tuple[float, float]:
    ci = binomtest(group.converted, group.visitors).proportion_ci(
        confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def _check_fraction(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")


def _check_power(power: float) -> None:
    if not 0.5 <= power < 1:  # below 0.5 the formula's two terms pull against each other
        raise ValueError(f"power must be at least 0.5 and below 1, got {power!r}")


def _lacking(treated: object, control: object) -> str:
    """The group(s) lacking something (a falsy value), in words; "" when neither does."""
    if not treated and not control:
        return "either group"
    return "the treated group" if not treated else "the control group" if not control else ""


def _about(n: int) -> int:
    """``n`` rounded up to two significant figures: 1,163 -> 1,200."""
    step = int(10 ** max(0, len(str(n)) - 2))
    return -(-n // step) * step


def _points(fraction: float, *, signed: bool = False) -> str:
    value = round(fraction * 100, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:+,.1f}" if signed else f"{value:,.1f}"


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100, 1) + 0.0:+,.1f}%"
