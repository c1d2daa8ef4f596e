"""A realistic generated workload for the matcher: rule files of any size and
a population of visitor profiles, both from a seeded RNG.

Rules have 1-5 conditions over the catalogue (mostly ``and``, some ``or`` and
``not``), drawn so that each rule matches a few percent of the population.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import yaml

from rules.catalogue import CATALOGUE, DEVICES, PAGE_TYPES, TRAFFIC_SOURCES, Scope

LIBRARY = Path(__file__).resolve().parents[1] / "rules" / "library"

NOW = 1_790_000_000
CATEGORIES = [f"c{i}" for i in range(20)]
GRADES = ["vip", "gold", "silver", "basic"]


def _atom(rng: random.Random) -> str:
    kind = rng.randrange(14)
    if kind == 0:
        return f'traffic_source == "{rng.choice(TRAFFIC_SOURCES)}"'
    if kind == 1:
        return f'page_type == "{rng.choice(PAGE_TYPES[:4])}"'
    if kind == 2:
        return f'category == "{rng.choice(CATEGORIES)}"'
    if kind == 3:
        return f"visit_count >= {rng.randint(2, 30)}"
    if kind == 4:
        low = rng.randrange(0, 20) * 5000
        return f"cart_total between {low} and {low + rng.choice([10000, 30000])}"
    if kind == 5:
        return rng.choice(["is_member", "not is_member"])
    if kind == 6:
        return f'member_grade == "{rng.choice(GRADES)}"'
    if kind == 7:
        return f"purchase_count >= {rng.randint(1, 8)}"
    if kind == 8:
        return f'device == "{rng.choice(DEVICES)}"'
    if kind == 9:
        return f'page_path matches "/product/{rng.choice(CATEGORIES)}/*"'
    if kind == 10:
        return f'has_coupon("C{rng.randrange(10)}")'
    if kind == 11:
        return f"session_pageviews >= {rng.randint(2, 12)}"
    if kind == 12:
        hour = rng.randrange(24)
        return f"hour_of_day between {hour} and {min(hour + 3, 23)}"
    return f"purchase_total >= {rng.choice([5, 10, 30, 50, 100])}만"


def condition(rng: random.Random) -> str:
    atoms = [_atom(rng) for _ in range(rng.randint(1, 5))]
    if len(atoms) >= 3 and rng.random() < 0.2:
        return f"({atoms[0]} or {atoms[1]}) and " + " and ".join(atoms[2:])
    if len(atoms) >= 2 and rng.random() < 0.1:
        return f"{atoms[0]} and not ({' or '.join(atoms[1:])})"
    return " and ".join(atoms)


def rule_file(n_rules: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = ["site: bench", "rules:"]
    for i in range(n_rules):
        trigger = "[pageview, cart]" if rng.random() < 0.3 else "pageview"
        lines += [f"  - id: r{i}", f"    on: {trigger}", f"    priority: {rng.randrange(5)}",
                  f"    if: '{condition(rng)}'",
                  f'    do: {{widget: push_note, title: "혜택 {i}"}}']
    return "\n".join(lines) + "\n"


def sites_toml(rules_path: Path, origin: str, site: str = "bench", live_shards: int = 1) -> str:
    """The engine config of a load test: one site, and no connect limit per
    address, since every simulated visitor connects from this one machine."""
    return (f'[[sites]]\nid = "{site}"\norigins = ["{origin}"]\n'
            f'secret = "bench-secret-0123456789"\nrules = "{rules_path}"\n'
            f"live_shards = {live_shards}\n\n"
            "[limits]\nconnects_per_second = 1000000\nconnect_burst = 1000000\n")


LIVE_NAMES = {name for name, attr in CATALOGUE.items() if attr.scope is Scope.LIVE}


def site_file(n_rules: int, site: str = "bench", seed: int = 7, live: bool = True) -> str:
    """The load test's site: every recipe of rules/library (their segments, caps,
    schedules, pages and fatigue budget) followed by ``n_rules`` generated rules;
    without the recipes that read live counters when ``live`` is false."""
    merged: dict[str, Any] = {"version": 1, "site": site, "timezone": "Asia/Seoul",
                              "segments": {}, "rules": []}
    for path in sorted(LIBRARY.glob("*.yaml")):
        recipes = yaml.safe_load(path.read_text(encoding="utf-8"))
        merged["segments"].update(recipes.get("segments") or {})
        merged["rules"] += [rule for rule in recipes["rules"]
                            if live or not LIVE_NAMES.intersection(
                                re.findall(r"\w+", json.dumps(rule, ensure_ascii=False)))]
        if "fatigue" in recipes:
            merged["fatigue"] = recipes["fatigue"]
    merged["rules"] += yaml.safe_load(rule_file(n_rules, seed))["rules"] or []
    for rule in merged["rules"]:
        if True in rule:  # PyYAML reads the key `on` as YAML 1.1's boolean
            rule["on"] = rule.pop(True)
    return yaml.safe_dump(merged, allow_unicode=True, sort_keys=False)


def population(n: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        category = rng.choice(CATEGORIES)
        page_type = rng.choice(["home", "category", "product", "product", "cart"])
        member = rng.random() < 0.35
        profile: dict[str, Any] = {
            "visit_count": int(rng.paretovariate(1.2)),
            "purchase_count": int(rng.paretovariate(2.0)) - 1,
            "purchase_total": int(rng.paretovariate(1.5) * 20000) - 20000,
            "session_pageviews": rng.randint(1, 15),
            "traffic_source": rng.choice(TRAFFIC_SOURCES),
            "device": rng.choices(DEVICES, [3, 6, 1])[0],
            "page_type": page_type,
            "page_path": f"/product/{category}/{rng.randrange(500)}" if page_type == "product"
            else f"/{page_type}",
            "category": category,
            "cart_total": rng.choice([0, 0, 0]) or rng.randrange(0, 150_000, 1000),
            "cart_items": [f"P{rng.randrange(500)}" for _ in range(rng.randrange(4))],
            "is_member": member,
            "hour_of_day": rng.randrange(24),
            "coupons": {f"C{rng.randrange(10)}": NOW + rng.randrange(-5, 10) * 86_400
                        for _ in range(rng.randrange(3))},
            "now": NOW,
        }
        if member:
            profile["member_grade"] = rng.choices(GRADES, [1, 3, 6, 10])[0]
        out.append(profile)
    return out
