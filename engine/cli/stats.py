"""``ondo stats --site S [--from --to] [--rule ID] [--format table|csv|json]``:
what each rule earned, from the stats API of a running engine (docs/stats.md).
The table is sorted as the API sorts (active rules by revenue first), with
amounts in won and column widths that count a Korean character as two."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from typing import Any

from engine.cli import api


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stats", help="what each rule earned: conversions, revenue, "
                                   "lift")
    parser.add_argument("--site", required=True)
    parser.add_argument("--from", dest="first", metavar="YYYY-MM-DD",
                        help="first day, in the site's time zone (default: 13 days before --to)")
    parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day (default: "
                        "today)")
    parser.add_argument("--rule", help="one rule only")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--url", default=None, help="engine URL (or ONDO_URL)")
    parser.add_argument("--token", default=None, help="admin token (or ONDO_TOKEN)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params = {name: value for name, value in
              (("from", args.first), ("to", args.last), ("rule", args.rule)) if value}
    accept = "text/csv" if args.format == "csv" else "application/json"
    data = api.call(args, "GET", "/stats", params=params, accept=accept)
    if data is None:
        return 1
    if args.format == "csv":
        sys.stdout.write(str(data).lstrip("\ufeff"))
    elif args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(table(data))
    return 0


def won(amount: float | None) -> str:
    return "-" if amount is None else f"{round(amount):,}원"


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.1f}%"


def width(text: str) -> int:
    """Columns on a terminal: wide (Korean) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int, right: bool = False) -> str:
    space = " " * max(0, columns - width(text))
    return space + text if right else text + space


HEADER = ("rule", "shown", "clicked", "CTR", "conversions", "revenue", "lift")
RIGHT = {"shown", "clicked", "CTR", "conversions", "revenue"}


def table(data: dict[str, Any]) -> str:
    rows = [_row(rule) for rule in data["rules"]]
    for period in data["site_wide"]["periods"]:
        rows.append(("(whole site)", "", "", "", f"{period['treated']['conversions']:,}",
                     won(period["treated"]["revenue"]),
                     _lift(period, "no site holdback (set holdback in the site's config)")))
    widths = [max(width(str(row[i])) for row in (HEADER, *rows)) for i in range(len(HEADER))]
    lines = [f"{data['site']}: {data['from']} to {data['to']} ({data['timezone']}), "
             f"purchases credited within {data['attribution_hours']:g} hours of an exposure"]
    for row in (HEADER, *rows):
        lines.append("  ".join(pad(str(cell), widths[i], HEADER[i] in RIGHT)
                               for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _row(rule: dict[str, Any]) -> tuple[str, ...]:
    name = rule["rule"] + ("" if rule["active"] else " (older version)")
    conversions = sum(p["treated"]["conversions"] for p in rule["periods"])
    lift = "; ".join(_lift(p) for p in rule["periods"]) or "no exposures yet"
    return (name, f"{rule['shown']:,}", f"{rule['clicked']:,}", percent(rule["ctr"]),
            f"{conversions:,}", won(rule["revenue"]), lift)


def _lift(period: dict[str, Any],
          unmeasured: str = "no control group (give the rule a holdout)") -> str:
    if not period["control"]["visitors"] and period["share"] == 0:
        return unmeasured
    return f"{period['share']:g}% holdout: {period['summary']}"
