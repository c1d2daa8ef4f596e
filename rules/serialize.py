"""Ruleset <-> JSON-able data. The layout is canonical: ``Ruleset.dumps`` hashes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.ruleset import (
    Action,
    Arming,
    Fatigue,
    Frequency,
    Pages,
    Predicate,
    Recommend,
    Rule,
    Ruleset,
    Schedule,
    TemplatePart,
    TemplateVar,
)

FORMAT = 1


def _template_as_json(parts: tuple[TemplatePart, ...]) -> list[Any]:
    return [p if isinstance(p, str) else {"var": p.name, "filters": [list(f) for f in p.filters]}
            for p in parts]


def _template_from_json(data: list[Any]) -> tuple[TemplatePart, ...]:
    return tuple(p if isinstance(p, str)
                 else TemplateVar(p["var"], tuple((f[0], f[1]) for f in p["filters"]))
                 for p in data)


def _rule_as_json(rule: Rule) -> dict[str, Any]:
    action = rule.action
    return {
        "id": rule.id,
        "index": rule.index,
        "line": rule.line,
        "priority": rule.priority,
        "triggers": list(rule.triggers),
        "program": list(rule.program),
        "action": {
            "widget": action.widget,
            "content": {k: _template_as_json(v) for k, v in sorted(action.content.items())},
            "arming": {"delay": action.arming.delay, "scroll": action.arming.scroll,
                       "exit_intent": action.arming.exit_intent, "idle": action.arming.idle},
            "login_required": action.login_required,
            # Only when there is one: older compiled files stay byte-identical.
            **({} if action.recommend is None else {"recommend": {
                "kind": action.recommend.kind, "of": action.recommend.of,
                "count": action.recommend.count}}),
        },
        "frequency": None if rule.frequency is None else {
            "max": rule.frequency.max, "per": rule.frequency.per,
            "seconds": rule.frequency.seconds},
        "stop_after": list(rule.stop_after),
        "schedule": None if rule.schedule is None else {
            "starts": rule.schedule.starts, "ends": rule.schedule.ends,
            "weekdays": list(rule.schedule.weekdays),
            "hours": [list(h) for h in rule.schedule.hours]},
        "pages": None if rule.pages is None else {
            "include": list(rule.pages.include), "exclude": list(rule.pages.exclude)},
        "holdout": rule.holdout,
        "enabled": rule.enabled,
    }


def _rule_from_json(d: Mapping[str, Any]) -> Rule:
    a = d["action"]
    f, s, p = d["frequency"], d["schedule"], d["pages"]
    return Rule(
        id=d["id"],
        index=d["index"],
        line=d["line"],
        priority=d["priority"],
        triggers=tuple(d["triggers"]),
        program=tuple(d["program"]),
        action=Action(
            widget=a["widget"],
            content={k: _template_from_json(v) for k, v in a["content"].items()},
            arming=Arming(**a["arming"]),
            login_required=a["login_required"],
            recommend=None if a.get("recommend") is None else Recommend(**a["recommend"]),
        ),
        frequency=None if f is None else Frequency(f["max"], f["per"], f["seconds"]),
        stop_after=tuple(d["stop_after"]),
        schedule=None if s is None else Schedule(
            s["starts"], s["ends"], tuple(s["weekdays"]), tuple((h[0], h[1]) for h in s["hours"])),
        pages=None if p is None else Pages(tuple(p["include"]), tuple(p["exclude"])),
        holdout=d["holdout"],
        enabled=d["enabled"],
    )


def ruleset_as_json(ruleset: Ruleset) -> dict[str, Any]:
    fatigue = ruleset.fatigue
    return {
        "format": FORMAT,
        "site": ruleset.site,
        "timezone": ruleset.timezone,
        "predicates": [p.as_json() for p in ruleset.predicates],
        "rules": [_rule_as_json(r) for r in ruleset.rules],
        "fatigue": {"max_per_session": fatigue.max_per_session,
                    "max_per_day": fatigue.max_per_day,
                    "min_interval": fatigue.min_interval},
    }


def ruleset_from_json(data: Mapping[str, Any]) -> Ruleset:
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported ruleset format {data.get('format')!r}")
    return Ruleset(
        site=data["site"],
        timezone=data["timezone"],
        predicates=tuple(Predicate.from_json(p) for p in data["predicates"]),
        rules=tuple(_rule_from_json(r) for r in data["rules"]),
        fatigue=Fatigue(**data["fatigue"]),
    )
