"""A site as the engine runs it: its configuration and its active ruleset,
compiled once and swapped atomically (one reference assignment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config import SiteConfig
from engine.matching import MatcherLike
from rules.ruleset import Rule, Ruleset


@dataclass(frozen=True, slots=True)
class ActiveRules:
    ruleset: Ruleset
    matcher: MatcherLike
    by_id: dict[str, Rule] = field(default_factory=dict)

    @classmethod
    def build(cls, ruleset: Ruleset, matcher_class: type[MatcherLike]) -> ActiveRules:
        return cls(ruleset, matcher_class(ruleset), {r.id: r for r in ruleset.rules})


class LiveSite:
    def __init__(self, config: SiteConfig, rules: ActiveRules | None) -> None:
        self.config = config
        self.rules = rules

    def swap(self, rules: ActiveRules) -> None:
        # Events in flight keep the ActiveRules they started with.
        self.rules = rules
