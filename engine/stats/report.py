"""What the rules earned over a date range, from the stored daily figures
(pure; the HTTP API reads the store and hands the figures in).

The store keeps, per site and site-local day, sums in one hash (``rule|what``
and ``rule|what|group``, engine/delivery/counters.py) and distinct-visitor
counters (``rule|exposed|group``, ``rule|converted|group``, ``@site|visitors|group``,
``@site|converted|group``). A group is "t" (treated) or "c" (control) with the
holdout share that drew it in percent ("t10", "c10"): each share is its own
measurement period, compared only with itself (docs/stats.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.stats.lift import Group, Lift, lift

SITE = "@site"  # engine.delivery.counters.SITE
# The plain daily counts of a rule, in the order they are shown.
COUNTS = ("matched", "sent", "shown", "clicked", "closed", "click_conversions")
# Why a matched rule was not sent (engine/delivery/policy.py, Reason).
REASONS = ("lost_to", "capped", "stopped", "fatigued", "held_out", "held_back",
           "off_schedule", "off_page", "no_recommendations")
SUMS = ("conversions", "revenue", "revenue_sq")
# The sum of squared amounts is kept in two integer fields, "revenue_sq" (the
# squares' low 32 bits) and "revenue_sq_hi" (the rest, shifted), so no sum of
# realistic orders can leave Redis's 64-bit integers (engine/delivery/counters.py).
SQUARES_HIGH = "revenue_sq_hi"
SQUARES_SPLIT = 32
DISTINCT = ("exposed", "converted", "visitors")


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def iso(day_key_: str) -> str:
    return f"{day_key_[:4]}-{day_key_[4:6]}-{day_key_[6:]}"


@dataclass
class Period:
    """One holdout share's comparison: sums and distinct visitors per side."""

    share: str  # percent, as in the group label
    sums: dict[str, dict[str, int]] = field(default_factory=lambda: {"t": {}, "c": {}})
    distinct: dict[str, dict[str, int]] = field(default_factory=lambda: {"t": {}, "c": {}})

    def group(self, side: str, who: str) -> Group:
        sums, distinct = self.sums[side], self.distinct[side]
        return Group(visitors=distinct.get(who, 0), converted=distinct.get("converted", 0),
                     conversions=sums.get("conversions", 0), revenue=sums.get("revenue", 0),
                     revenue_sq=sums.get("revenue_sq", 0))

    def as_json(self, who: str) -> dict[str, Any]:
        """The comparison: both groups, the lift with its intervals and verdict."""
        result: Lift = lift(self.group("t", who), self.group("c", who))
        return {"share": float(self.share), **result.as_json()}


def _split(name: str) -> tuple[str, str, str | None]:
    rule, _, rest = name.partition("|")
    what, _, group = rest.partition("|")
    return rule, what, group or None


@dataclass
class RuleFigures:
    rule: str
    counts: dict[str, int] = field(default_factory=dict)
    periods: dict[str, Period] = field(default_factory=dict)
    days: dict[str, dict[str, int]] = field(default_factory=dict)

    def period(self, group: str) -> tuple[Period, str]:
        side, share = group[0], group[1:]
        period = self.periods.get(share)
        if period is None:
            period = self.periods[share] = Period(share)
        return period, side

    @property
    def revenue(self) -> int:
        return sum(p.sums["t"].get("revenue", 0) for p in self.periods.values())


def build(daily: Mapping[str, Mapping[str, int]], distinct: Mapping[str, int],
          distinct_daily: Mapping[str, Mapping[str, int]], active: Iterable[str]
          ) -> tuple[RuleFigures, list[RuleFigures]]:
    """The site-wide figures and each rule's, from the days' sums (day key ->
    name -> n), the distinct visitors over the whole range (name -> n) and per
    day (day key -> name -> n). Rules of the active ruleset come first, then
    those only older versions had; each sorted by revenue, then by id."""
    figures: dict[str, RuleFigures] = {rule: RuleFigures(rule) for rule in active}
    site = RuleFigures(SITE)

    def of(rule: str) -> RuleFigures:
        if rule == SITE:
            return site
        found = figures.get(rule)
        if found is None:
            found = figures[rule] = RuleFigures(rule)
        return found

    for day in sorted(daily):
        for name, n in daily[day].items():
            rule, what, group = _split(name)
            if what == SQUARES_HIGH:  # the squares' high part (engine/delivery/counters.py)
                what, n = "revenue_sq", n << SQUARES_SPLIT
            target = of(rule)
            column = what if group is None else f"{what}_{group}"
            days = target.days.setdefault(day, {})
            days[column] = days.get(column, 0) + n
            if group is None:
                target.counts[what] = target.counts.get(what, 0) + n
            elif what in SUMS:
                period, side = target.period(group)
                period.sums[side][what] = period.sums[side].get(what, 0) + n
    for day, names in distinct_daily.items():
        for name, n in names.items():
            rule, what, group = _split(name)
            if group is not None:
                of(rule).days.setdefault(day, {})[f"{what}_{group}"] = n
    for name, n in distinct.items():
        rule, what, group = _split(name)
        if group is not None and what in DISTINCT:
            period, side = of(rule).period(group)
            period.distinct[side][what] = n
    current = set(active)
    ordered = sorted(figures.values(),
                     key=lambda f: (f.rule not in current, -f.revenue, f.rule))
    return site, ordered


def report(site_id: str, first: date, last: date, timezone: str,
           daily: Mapping[str, Mapping[str, int]], distinct: Mapping[str, int],
           distinct_daily: Mapping[str, Mapping[str, int]], active: Iterable[str]
           ) -> dict[str, Any]:
    """The stats API's JSON (docs/stats.md)."""
    active = list(active)
    site, rules = build(daily, distinct, distinct_daily, active)
    current = set(active)
    return {
        "site": site_id, "from": first.isoformat(), "to": last.isoformat(),
        "timezone": timezone,
        "site_wide": {"periods": [p.as_json("visitors") for _, p in
                                  sorted(site.periods.items(), key=lambda kv: float(kv[0]))],
                      "days": _days(site)},
        "rules": [_rule_json(f, f.rule in current) for f in rules],
    }


def _rule_json(figures: RuleFigures, active: bool) -> dict[str, Any]:
    counts = {name: figures.counts.get(name, 0) for name in COUNTS}
    shown = counts["shown"]
    return {
        "rule": figures.rule, "active": active, **counts,
        "ctr": counts["clicked"] / shown if shown else None,
        "not_shown": {reason: figures.counts.get(reason, 0) for reason in REASONS},
        "revenue": figures.revenue,
        "periods": [p.as_json("exposed") for _, p in
                    sorted(figures.periods.items(), key=lambda kv: float(kv[0]))],
        "days": _days(figures),
    }


def _days(figures: RuleFigures) -> list[dict[str, Any]]:
    return [{"date": iso(day), **values} for day, values in sorted(figures.days.items())]


def as_csv(data: Mapping[str, Any]) -> str:
    """The same figures as rows for a spreadsheet: one row per rule and day,
    then one total row per rule (date "total") with its lift."""
    rows: list[dict[str, Any]] = []
    for rule in data["rules"]:
        for day in rule["days"]:
            rows.append({"rule": rule["rule"], "active": rule["active"], **day})
        for period in rule["periods"] or [None]:
            row: dict[str, Any] = {"rule": rule["rule"], "active": rule["active"],
                                   "date": "total", "ctr": rule["ctr"]}
            row.update({name: rule[name] for name in COUNTS})
            row.update(rule["not_shown"])
            if period is not None:
                row.update(_period_columns(period))
            rows.append(row)
    for period in data["site_wide"]["periods"]:
        rows.append({"rule": SITE, "active": True, "date": "total", **_period_columns(period)})
    columns = ["rule", "active", "date", *COUNTS, "ctr", *REASONS]
    for row in rows:
        columns += [name for name in row if name not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _period_columns(period: Mapping[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {"holdout_share": period["share"]}
    for side in ("treated", "control"):
        for name, value in period[side].items():
            columns[f"{side}_{name}"] = value
    absolute = period.get("absolute")
    if absolute:
        columns.update({"lift": absolute["estimate"], "lift_low": absolute["low"],
                        "lift_high": absolute["high"]})
    columns["verdict"] = period["verdict"]
    columns["summary"] = period["summary"]
    return columns
