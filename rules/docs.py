"""Generate ``docs/attributes.md`` from the catalogue: ``python -m rules.docs``.

A test checks that the committed file equals what this prints.
"""

from __future__ import annotations

import sys

from rules.catalogue import CATALOGUE, Scope

_SCOPES = {
    Scope.LIFETIME: "Lifetime",
    Scope.WINDOWED: "Windowed (sums of daily buckets, today included)",
    Scope.SESSION: "Session (ends after 30 minutes of inactivity; configurable)",
    Scope.PAGE: "Page",
    Scope.CART: "Cart",
    Scope.LIVE: "Live counters",
    Scope.CLOCK: "Clock (site time zone, Asia/Seoul by default)",
    Scope.EVENT: "Event (the event being evaluated)",
}


def attributes_markdown() -> str:
    lines = [
        "# Attributes rules can read",
        "",
        "Generated from `rules/catalogue.py` by `python -m rules.docs`; do not edit.",
        "",
        "A missing attribute makes every comparison with it false (`!=` and `not in` too);",
        "`not` negates the result. Attributes marked *may be missing* need",
        "`| default(...)` in templates; test them with `exists(name)`.",
        "",
    ]
    for scope, title in _SCOPES.items():
        lines += [f"## {title}", "", "| attribute | type | unit | meaning |", "|---|---|---|---|"]
        for attr in CATALOGUE.values():
            if attr.scope is not scope:
                continue
            meaning = attr.meaning
            if attr.values:
                meaning += ": " + ", ".join(f"`{v}`" for v in attr.values)
            if not attr.always:
                meaning += " *(may be missing)*"
            name = f"`{attr.name}`" + (" (via functions)" if attr.internal else "")
            lines.append(f"| {name} | {attr.kind.value} | {attr.unit.value} | "
                         f"{meaning.replace('|', '&#124;')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(attributes_markdown())
