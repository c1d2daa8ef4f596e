"""A site as the engine runs it: its configuration and its active ruleset,
compiled once and swapped atomically (one reference assignment).

A version uploaded or announced while the engine serves is compiled in a job's
worker (``check_rules``, engine/runtime/jobs.py), never on the event loop: the
site serves its current rules meanwhile, and the version asked for last wins
(``LiveSite.activate``). Only the configured files at start-up are compiled in
the engine's process (``load_sites``), before it serves anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

import rules
from engine.delivery.policy import Policy, group, site_group
from engine.matcher import MatcherLike
from engine.profile.localtime import Calendar
from engine.runtime.config import Config, SiteConfig
from engine.runtime.jobs import JobError, Jobs
from engine.store.base import source_version
from engine.wire.action_ids import action_key
from engine.wire.protocol import SIGNALS
from rules.catalogue import CATALOGUE, Scope
from rules.errors import Problem, Severity
from rules.ruleset import Rule, Ruleset, TemplateVar

log = logging.getLogger("ondo.rules")
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


class Checked(NamedTuple):
    """A rule file checked in a job's worker (``check_rules``)."""

    ok: bool  # no error: it compiled
    site: str | None  # the site the file names
    rules: int  # how many rules it has
    problems: bytes  # ``{"errors": [...], "warnings": [...]}``: JSON, as the API answers
    head: Ruleset | None  # when kept: the ruleset without its rules ...
    kept: list[Rule]  # ... which cross back in pieces (engine/runtime/jobs.py)

    def ruleset(self) -> Ruleset:
        """The compiled file (kept and without errors)."""
        if self.head is None:
            raise RuntimeError("the ruleset was not kept, or the file has errors")
        return dataclasses.replace(self.head, rules=tuple(self.kept))

    def active(self, matcher_class: type[MatcherLike], version: str,
               source: str) -> ActiveRules:
        """The file as a site's active rules. Raises RuleFileError."""
        if not self.ok:
            found = orjson.loads(self.problems)
            raise rules.RuleFileError(*([Problem(**{**p, "severity": Severity(p["severity"])})
                                         for p in found[kind]] for kind in
                                        ("errors", "warnings")))
        return ActiveRules.build(self.ruleset(), matcher_class, version, source)


def check_rules(source: str, name: str, keep: bool = False) -> Checked:
    """A job (run in a worker): the rule file's text checked, its problems as
    JSON, and with ``keep`` its compiled ruleset."""
    compiled = rules.check(source, name)
    problems = orjson.dumps({"errors": [p.as_json() for p in compiled.errors],
                             "warnings": [p.as_json() for p in compiled.warnings]})
    ruleset = compiled.ruleset
    if ruleset is None:
        return Checked(False, None, 0, problems, None, [])
    if not keep:
        return Checked(True, ruleset.site, len(ruleset.rules), problems, None, [])
    return Checked(True, ruleset.site, len(ruleset.rules), problems,
                   dataclasses.replace(ruleset, rules=()), list(ruleset.rules))


async def compile_version(jobs: Jobs, site: LiveSite, version: str, source: str,
                          matcher_class: type[MatcherLike], counted: bool = False
                          ) -> ActiveRules:
    """A stored version as the site's active rules: compiled in a job's worker,
    its matcher built here (0.2 s on the loop for 20,000 rules). ``counted``:
    one of the site's ``jobs_per_site`` (a request's). Raises JobError,
    RuleFileError."""
    checked = await jobs.run(site.config.id, "the rule file", check_rules, source,
                             f"{site.config.id}.yaml", True, counted=counted)
    return checked.active(matcher_class, version, source)


Build = Callable[[], Awaitable[ActiveRules]]


class LiveSite:
    def __init__(self, config: SiteConfig, rules: ActiveRules | None) -> None:
        self.config = config
        self.rules = rules
        self.calendar = Calendar(config.tz)
        self.action_key = action_key(config.secret)
        # Versions asked for (activate, go_live, load), and the last one: a
        # reader of the store that sees the count change while it reads knows
        # that a newer ask came in meanwhile.
        self.asked = 0
        self.wanted: str | None = rules.version if rules is not None else None
        self._building: tuple[str, asyncio.Task[None]] | None = None

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

    def activate(self, version: str, build: Build) -> asyncio.Task[None] | None:
        """Make ``version`` this site's active ruleset on this node, once
        ``build`` (which compiles off the event loop) has built it; the site
        serves its current rules until then, and swaps at once. The version
        asked for last wins: a build still running for another one is
        cancelled. None when the version is active already; the build under way
        when it is being built. A build that fails is logged; the site keeps
        serving what it served."""
        if self._building is not None:
            building, task = self._building
            if building == version and not task.done():
                self._ask(version, cancel=False)
                return task
        self._ask(version)
        if self.rules is not None and self.rules.version == version:
            return None
        task = asyncio.create_task(self._build(build), name=f"ondo-rules-{self.config.id}")
        task.add_done_callback(functools.partial(_failed, self.config.id, version))
        self._building = (version, task)
        return task

    async def _build(self, build: Build) -> None:
        self.swap(await build())  # nothing between the build and the swap

    def go_live(self, active: ActiveRules, since: int | None = None) -> bool:
        """Swap in rules built already (an upload compiled them to check them),
        unless another version was asked for after ``since`` (an ``asked``
        count): then that one is newer, and this returns False."""
        if since is not None and self.asked != since and self.wanted != active.version:
            return False
        self._ask(active.version)
        if self.rules is None or self.rules.version != active.version:
            self.swap(active)
        return True

    def load(self, version: str, source: str, matcher_class: type[MatcherLike]) -> None:
        """Compile a stored version here, in the engine's process, and make it
        this site's active ruleset (a no-op when it already is): for start-up
        and tests; a serving engine uses ``activate``. Raises RuleFileError."""
        self._ask(version)
        if self.rules is not None and self.rules.version == version:
            return
        ruleset = rules.load(source, name=f"{self.config.id}.yaml")
        self.swap(ActiveRules.build(ruleset, matcher_class, version, source))

    def _ask(self, version: str, cancel: bool = True) -> None:
        self.asked += 1
        self.wanted = version
        if cancel and self._building is not None:
            self._building[1].cancel()  # a no-op when it is done
            self._building = None


def _failed(site: str, version: str, task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    exc = task.exception()
    log.error("site %s: version %s could not go live on this node (%s); it serves the "
              "rules it served", site, version, exc,
              exc_info=None if isinstance(exc, JobError | rules.RuleFileError) else exc)


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
