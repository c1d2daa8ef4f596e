"""A site as the engine runs it: its configuration and its active ruleset,
compiled once and swapped atomically (one reference assignment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rules
from engine.delivery.policy import Policy, group, site_group
from engine.matcher import MatcherLike
from engine.profile.localtime import Calendar
from engine.runtime.config import Config, SiteConfig
from engine.store.base import source_version
from engine.wire.action_ids import action_key
from engine.wire.protocol import SIGNALS
from rules.catalogue import CATALOGUE, Scope
from rules.ruleset import Rule, Ruleset, TemplateVar

EVERYONE = group(True, 0.0)  # the one group of a site without a holdback


@dataclass(frozen=True, slots=True)
class ActiveRules:
    ruleset: Ruleset
    matcher: MatcherLike
    policy: Policy
    version: str  # the id it is stored under: the hash of its text (engine/store/base.py)
    by_id: dict[str, Rule] = field(default_factory=dict)
    reads_windows: bool = True  # some rule reads a windowed attribute (visits_7d, ...)
    # The rule file's own time zone, when it names one: its schedules,
    # hour_of_day and weekday use it; day buckets and statistics stay the site's.
    calendar: Calendar | None = None
    source: str = ""  # the rule file's text
    signals: tuple[str, ...] = ()  # the widget signals some enabled rule is triggered by
    # The triggers of the rules that read a live counter (product_viewers_now, ...):
    # only their events read the counters.
    live_triggers: frozenset[str] = frozenset()
    recommends: bool = False  # some rule's action recommends products

    @classmethod
    def build(cls, ruleset: Ruleset, matcher_class: type[MatcherLike],
              version: str, source: str = "") -> ActiveRules:
        read = set(ruleset.attributes) | {
            part.name for rule in ruleset.rules for parts in rule.action.content.values()
            for part in parts if isinstance(part, TemplateVar)}
        scopes = {CATALOGUE[name].scope for name in read}
        live = {name for name, attr in CATALOGUE.items() if attr.scope is Scope.LIVE}

        def reads_live(rule: Rule) -> bool:
            names = {ruleset.predicates[i].attribute for i in rule.program if i >= 0} | {
                part.name for parts in rule.action.content.values() for part in parts
                if isinstance(part, TemplateVar)}
            return bool(names & live)
        calendar = Calendar(ZoneInfo(ruleset.timezone)) if ruleset.timezone else None
        return cls(ruleset, matcher_class(ruleset), Policy.of(ruleset), version,
                   {r.id: r for r in ruleset.rules}, Scope.WINDOWED in scopes, calendar, source,
                   tuple(s for s in SIGNALS if any(r.enabled and s in r.triggers
                                                   for r in ruleset.rules)),
                   frozenset(trigger for rule in ruleset.rules if rule.enabled and
                             reads_live(rule) for trigger in rule.triggers),
                   any(rule.action.recommend is not None for rule in ruleset.rules))


    def match(self, profile: Mapping[str, Any], triggers: tuple[str, ...]) -> list[str]:
        """The rules of any of ``triggers`` that match, in priority order."""
        if len(triggers) == 1:
            return self.matcher.match(profile, triggers[0])
        found = {rule for trigger in triggers for rule in self.matcher.match(profile, trigger)}
        by_id = self.by_id
        return sorted(found, key=lambda r: (-by_id[r].priority, by_id[r].index))


class LiveSite:
    def __init__(self, config: SiteConfig, rules: ActiveRules | None) -> None:
        self.config = config
        self.rules = rules
        self.calendar = Calendar(config.tz)
        self.action_key = action_key(config.secret)

    def group(self, key: str) -> str:
        """The profile's group in the site's holdback ("t5" or "c5"); without a
        holdback everyone is treated, with no draw to make."""
        if not self.config.holdback:
            return EVERYONE
        return site_group(key, self.config.holdback)

    def held_back(self, key: str) -> bool:
        """Whether the profile is in the site's holdback: no action, ever."""
        return self.config.holdback > 0 and self.group(key).startswith("c")

    def tz(self, rules: ActiveRules) -> ZoneInfo:
        """The zone of a ruleset's schedules and clock attributes."""
        return rules.calendar.tz if rules.calendar is not None else self.calendar.tz

    def swap(self, rules: ActiveRules) -> None:
        # Events in flight keep the ActiveRules they started with.
        self.rules = rules

    def load(self, version: str, source: str, matcher_class: type[MatcherLike]) -> None:
        """Compile a stored version and make it this site's active ruleset on
        this node (a no-op when it already is). Raises RuleFileError."""
        if self.rules is not None and self.rules.version == version:
            return
        ruleset = rules.load(source, name=f"{self.config.id}.yaml")
        self.swap(ActiveRules.build(ruleset, matcher_class, version, source))


def load_sites(config: Config, cls: type[MatcherLike]) -> dict[str, LiveSite]:
    """The configured sites, each with the rule file its config names (the
    store's active version replaces it once read)."""
    sites = {}
    for site_id, site in config.sites.items():
        active = None
        if site.rules:
            source = Path(site.rules).read_text(encoding="utf-8")
            # RuleFileError stops start-up, with positions.
            ruleset = rules.load(source, name=site.rules)
            active = ActiveRules.build(ruleset, cls, source_version(source), source)
        sites[site_id] = LiveSite(site, active)
    return sites
