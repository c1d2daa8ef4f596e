"""A rule file's text -> ``Ruleset``, reporting every problem of the file.

The compiler keeps no state between calls: ``compile_text`` builds everything
it needs (the YAML tree, the predicate table, the segments) for one file. The
limits it enforces are in ``rules.limits``.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field

from rules import options
from rules.conditions import FALSE, TRUE, Cond, PredicateTable, did_you_mean
from rules.content import read_action
from rules.errors import Problem, Severity
from rules.limits import MAX_FILE_BYTES as MAX_FILE_BYTES  # the HTTP API reads it from here
from rules.limits import MAX_PROGRAM_STEPS, MAX_RULES
from rules.options import Report, kind_of, mapping_items
from rules.program import emit, program_size
from rules.ruleset import (
    DEFAULT_TRIGGERS,
    STOP_AFTER,
    TRIGGERS,
    Fatigue,
    Frequency,
    Pages,
    Rule,
    Ruleset,
    Schedule,
)
from rules.segments import Segments
from rules.source import (
    Located,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    Source,
    YamlSyntaxError,
    is_string,
    scalar_value,
)

DEFAULT_FREQUENCY = Frequency(1, "session")

TOP_KEYS = ("version", "site", "timezone", "segments", "fatigue", "rules")
RULE_KEYS = ("id", "on", "if", "do", "priority", "frequency", "stop_after", "schedule", "pages",
             "holdout", "enabled")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SITE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass
class Compiled:
    """What one file compiles to: a Ruleset when there is no error, and every
    problem (errors and warnings) either way."""

    ruleset: Ruleset | None
    problems: list[Problem]
    # For lint and explain: each rule's condition text and its lowered form.
    conditions: dict[str, Cond] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def compile_text(text: str, name: str = "<rules>") -> Compiled:
    source = Source(text, name)
    report = Report(source)
    size = len(text.encode())
    if size > MAX_FILE_BYTES:
        report.error(Located(1, 1), f"file too large: {size:,} bytes (limit {MAX_FILE_BYTES:,})",
                     "split the rules over several sites or files")
        return Compiled(None, report.problems)
    try:
        root = source.compose()
    except YamlSyntaxError as exc:
        return Compiled(None, [exc.problem])
    return _FileCompiler(source, report).run(root)


class _FileCompiler:
    def __init__(self, source: Source, report: Report) -> None:
        self.source = source
        self.report = report
        self.table = PredicateTable()
        self.segments = Segments(report, self.table)
        self.steps = 0  # of the programs so far, against MAX_PROGRAM_STEPS
        self.conditions: dict[str, Cond] = {}
        self.rule_nodes: dict[str, MappingNode] = {}
        self.explicit_if: set[str] = set()

    # -- the file -----------------------------------------------------------------

    def run(self, root: Node | None) -> Compiled:
        report = self.report
        if root is None or not isinstance(root, MappingNode):
            report.error(root if root is not None else Located(1, 1),
                         "expected a rule file: a mapping with site and rules",
                         "start with `site: your-shop` and `rules:`")
            return Compiled(None, report.problems)
        site = None
        timezone = None  # the engine's site config gives the zone
        fatigue = Fatigue()
        rules_node: Node | None = None
        for key, key_node, value in mapping_items(root, report, TOP_KEYS, "the rule file"):
            if key == "version":
                if not isinstance(value, ScalarNode) or scalar_value(value) != 1:
                    report.error(value, "unsupported rule file version", "use version: 1")
            elif key == "site":
                site = options.string(value, report, "site")
                if site is not None and not _SITE.fullmatch(site):
                    report.error(value, f"invalid site id {site!r}",
                                 "lowercase letters, digits, - and _")
            elif key == "timezone":
                timezone = self.timezone(value)
            elif key == "segments":
                self.segments.collect(value)
            elif key == "fatigue":
                fatigue = self.fatigue(value)
            else:
                rules_node = value
            del key_node
        if site is None and not any(p.message.startswith("expected text for site")
                                    for p in report.problems):
            report.error(root, "missing site", "add `site: your-shop` at the top")
        rules = self.rules(rules_node, root)
        self.segments.finish()
        ruleset = None
        if not any(p.severity is Severity.ERROR for p in report.problems):
            assert site is not None
            ruleset = Ruleset(site, timezone, tuple(self.table.predicates), tuple(rules), fatigue)
            from rules.lint import lint

            lint(ruleset, self.conditions, self.explicit_if, self.rule_nodes, report)
        problems = sorted(report.problems, key=Problem.sort_key)
        return Compiled(ruleset, problems, self.conditions)

    def timezone(self, node: Node) -> str | None:
        name = options.string(node, self.report, "timezone")
        if name is None:
            return None
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.report.error(node, f"unknown time zone {name!r}",
                              did_you_mean(name, ["Asia/Seoul", "Asia/Tokyo", "UTC"])
                              or "an IANA name such as Asia/Seoul")
            return None
        return name

    def fatigue(self, node: Node) -> Fatigue:
        if not isinstance(node, MappingNode):
            self.report.error(node, f"expected a fatigue mapping, found {kind_of(node)}",
                              "e.g. {max_per_session: 2, min_interval: 30s}")
            return Fatigue()
        values: dict[str, int | None] = {}
        for key, _, value in mapping_items(node, self.report,
                                           ("max_per_session", "max_per_day", "min_interval"),
                                           "fatigue"):
            if key == "min_interval":
                values[key] = options.whole_seconds(value, self.report, "min_interval")
            else:
                values[key] = options.integer(value, self.report, key, 1, 1000)
        return Fatigue(values.get("max_per_session"), values.get("max_per_day"),
                       values.get("min_interval") or 0)

    # -- rules --------------------------------------------------------------------

    def rules(self, node: Node | None, root: MappingNode) -> list[Rule]:
        if node is None:
            self.report.error(root, "missing rules", "add `rules:` with a list of rules")
            return []
        if not isinstance(node, SequenceNode):
            self.report.error(node, f"expected a list of rules, found {kind_of(node)}",
                              "each rule starts with `- id: ...`")
            return []
        if len(node.value) > MAX_RULES:
            self.report.error(node, f"too many rules: {len(node.value):,} (limit {MAX_RULES:,})",
                              "split the rules over several sites")
            return []
        out: list[Rule] = []
        for index, item in enumerate(node.value):
            rule = self.rule(item, index)
            if rule is not None:
                out.append(rule)
        return out

    def rule(self, node: Node, index: int) -> Rule | None:
        report = self.report
        if not isinstance(node, MappingNode):
            report.error(node, f"expected a rule (a mapping with id, if, do), found "
                         f"{kind_of(node)}")
            return None
        before = len(report.problems)
        values: dict[str, Node] = {key: value for key, _, value in
                                   mapping_items(node, report, RULE_KEYS, "a rule")}
        rule_id = None
        if "id" not in values:
            report.error(node, "rule without id", "add `id: a-short-name`")
        else:
            rule_id = options.string(values["id"], report, "id")
            if rule_id is not None and not _ID.fullmatch(rule_id):
                report.error(values["id"], f"invalid rule id {rule_id!r}",
                             "letters, digits, -, _ and . (at most 64)")
            elif rule_id is not None and rule_id in self.rule_nodes:
                first = self.source.at(self.rule_nodes[rule_id]).line
                report.error(values["id"], f"duplicate rule id '{rule_id}'",
                             f"first defined on line {first}")
            elif rule_id is not None:
                self.rule_nodes[rule_id] = node
        cond: Cond | None = TRUE
        if "if" in values:
            value = values["if"]
            if is_string(value):
                cond = self.segments.condition(value)  # type: ignore[arg-type]
            elif isinstance(value, ScalarNode) and isinstance(scalar_value(value), bool):
                cond = TRUE if scalar_value(value) else FALSE
            else:
                report.error(value, f"expected a condition, found {kind_of(value)}",
                             "e.g. if: visit_count >= 2 and not is_member")
                cond = None
        triggers = self.triggers(values.get("on"))
        action = None
        if "do" not in values:
            report.error(node, f"rule '{rule_id or '?'}' has no `do`",
                         "add `do: {widget: popcorn_button, text: \"...\"}`")
        else:
            action = read_action(values["do"], self.source, report)
        priority = 0
        if "priority" in values:
            priority = options.integer(values["priority"], report, "priority", -1000, 1000) or 0
        freq: Frequency | None = DEFAULT_FREQUENCY
        if "frequency" in values:
            parsed = options.frequency(values["frequency"], report)
            freq = None if parsed is None or parsed is False else parsed  # type: ignore[assignment]
        stop_after = self.stop_after(values.get("stop_after"))
        sched: Schedule | None = None
        if "schedule" in values:
            sched = options.schedule(values["schedule"], report)
        page_globs: Pages | None = None
        if "pages" in values:
            page_globs = options.pages(values["pages"], report)
        share = 0.0
        if "holdout" in values:
            share = options.holdout(values["holdout"], report) or 0.0
        enabled = True
        if "enabled" in values:
            enabled = options.boolean(values["enabled"], report, "enabled") is not False
        if len(report.problems) > before and any(
                p.severity is Severity.ERROR for p in report.problems[before:]):
            return None
        assert rule_id is not None and cond is not None and action is not None
        program = self.program(cond, values.get("if", node))
        if program is None:
            return None
        self.conditions[rule_id] = cond
        if "if" in values:
            self.explicit_if.add(rule_id)
        return Rule(rule_id, index, self.source.at(node).line, priority, triggers,
                    program, action, freq, stop_after, sched, page_globs, share, enabled)

    def program(self, cond: Cond, where: Node) -> tuple[int, ...] | None:
        """A rule's program, within what is left of the file's MAX_PROGRAM_STEPS."""
        over = self.steps > MAX_PROGRAM_STEPS
        self.steps += program_size(cond)
        if self.steps <= MAX_PROGRAM_STEPS:
            return tuple(emit(cond))
        if not over:  # report the rule that goes over, not every rule after it
            self.report.error(where, "conditions too large: with segments inlined, the "
                              f"file's conditions take over {MAX_PROGRAM_STEPS:,} steps",
                              "a segment is copied wherever it is named: segments that "
                              "name segments many times multiply")
        return None

    def triggers(self, node: Node | None) -> tuple[str, ...]:
        if node is None:
            return DEFAULT_TRIGGERS
        items = node.value if isinstance(node, SequenceNode) else [node]
        out: list[str] = []
        for item in items:
            word = item.value if isinstance(item, ScalarNode) else None
            if word not in TRIGGERS:
                self.report.error(item, f"unknown trigger {word!r}",
                                  did_you_mean(str(word), list(TRIGGERS))
                                  or "triggers: " + ", ".join(TRIGGERS))
            elif word not in out:
                out.append(word)
        return tuple(t for t in TRIGGERS if t in out) or DEFAULT_TRIGGERS

    def stop_after(self, node: Node | None) -> tuple[str, ...]:
        if node is None:
            return ()
        items = node.value if isinstance(node, SequenceNode) else [node]
        out: set[str] = set()
        for item in items:
            word = item.value if isinstance(item, ScalarNode) else None
            if word not in STOP_AFTER:
                self.report.error(item, f"unknown stop_after {word!r}",
                                  did_you_mean(str(word), list(STOP_AFTER))
                                  or "stop_after: click, close, or [click, close]")
            else:
                out.add(word)
        return tuple(s for s in STOP_AFTER if s in out)
