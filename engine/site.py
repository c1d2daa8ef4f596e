"""A site as the engine runs it: its configuration and its active ruleset,
compiled once and swapped atomically (one reference assignment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config import SiteConfig
from engine.delivery import Policy
from engine.localtime import Calendar
from engine.matching import MatcherLike
from rules.catalogue import CATALOGUE, Scope
from rules.ruleset import Rule, Ruleset, TemplateVar


@dataclass(frozen=True, slots=True)
class ActiveRules:
    ruleset: Ruleset
    matcher: MatcherLike
    policy: Policy
    by_id: dict[str, Rule] = field(default_factory=dict)
    reads_windows: bool = True  # some rule reads a windowed attribute (visits_7d, ...)

    @classmethod
    def build(cls, ruleset: Ruleset, matcher_class: type[MatcherLike]) -> ActiveRules:
        windowed = any(CATALOGUE[a].scope is Scope.WINDOWED for a in ruleset.attributes) or any(
            isinstance(part, TemplateVar) and CATALOGUE[part.name].scope is Scope.WINDOWED
            for rule in ruleset.rules for parts in rule.action.content.values()
            for part in parts)
        return cls(ruleset, matcher_class(ruleset), Policy.of(ruleset),
                   {r.id: r for r in ruleset.rules}, windowed)


class LiveSite:
    def __init__(self, config: SiteConfig, rules: ActiveRules | None) -> None:
        self.config = config
        self.rules = rules
        self.calendar = Calendar(config.tz)

    def swap(self, rules: ActiveRules) -> None:
        # Events in flight keep the ActiveRules they started with.
        self.rules = rules
