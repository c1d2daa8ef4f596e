"""A rule file's text -> ``Ruleset``, reporting every problem of the file.

The compiler keeps no state between calls: ``compile_text`` builds everything
it needs (the YAML tree, the predicate table, the segment cache) for one file.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field

from rules import options
from rules.conditions import FALSE, TRUE, Cond, Lowering, PredicateTable, did_you_mean, emit
from rules.content import read_action
from rules.errors import Problem, Severity
from rules.options import Report, kind_of, mapping_items
from rules.parse import ParseError, parse
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
from rules.tree import Expr

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_RULES = 20_000
DEFAULT_TIMEZONE = "Asia/Seoul"
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
        self.segment_nodes: dict[str, ScalarNode] = {}
        self.segment_trees: dict[str, Expr | None] = {}
        self.segment_conds: dict[str, Cond | None] = {}
        self.segment_stack: list[str] = []
        self.used_segments: set[str] = set()
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
        timezone = DEFAULT_TIMEZONE
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
                timezone = self.timezone(value) or timezone
            elif key == "segments":
                self.collect_segments(value)
            elif key == "fatigue":
                fatigue = self.fatigue(value)
            else:
                rules_node = value
            del key_node
        if site is None and not any(p.message.startswith("expected text for site")
                                    for p in report.problems):
            report.error(root, "missing site", "add `site: your-shop` at the top")
        rules = self.rules(rules_node, root)
        for name, node in self.segment_nodes.items():
            self.segment(name, None)
            if name not in self.used_segments:
                report.warn(node, f"segment '{name}' is never used")
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

    # -- segments -----------------------------------------------------------------

    def collect_segments(self, node: Node) -> None:
        if not isinstance(node, MappingNode):
            self.report.error(node, f"expected segments as name: condition, found {kind_of(node)}")
            return
        for key_node, value in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
                self.report.error(key_node, "a segment name must be a word like loyal_buyers")
                continue
            if name in self.segment_nodes:
                self.report.error(key_node, f"segment '{name}' is defined twice")
                continue
            from rules.catalogue import CATALOGUE
            from rules.lexer import KEYWORDS

            if name in CATALOGUE or name in KEYWORDS:
                self.report.error(key_node, f"segment name '{name}' is taken by an attribute "
                                  "or keyword", "choose another name")
                continue
            if not is_string(value):
                self.report.error(value, f"expected a condition for segment '{name}', "
                                  f"found {kind_of(value)}")
                continue
            self.segment_nodes[name] = value

    def segment(self, name: str, used_at: int | None) -> Cond | None:
        if used_at is not None:
            self.used_segments.add(name)
        if name in self.segment_conds:
            return self.segment_conds[name]
        if name in self.segment_stack:
            cycle = [*self.segment_stack[self.segment_stack.index(name):], name]
            self.report.error(self.segment_nodes[name],
                              "segment cycle: " + " -> ".join(cycle),
                              "a segment cannot refer to itself, directly or through others")
            self.segment_conds[name] = None
            return None
        self.segment_stack.append(name)
        cond = self.condition(self.segment_nodes[name])
        self.segment_stack.pop()
        self.segment_conds.setdefault(name, cond)
        return self.segment_conds[name]

    # -- conditions ---------------------------------------------------------------

    def condition(self, node: ScalarNode) -> Cond | None:
        text = self.source.scalar_text(node)
        try:
            tree = parse(text.text)
        except ParseError as exc:
            self.report.error(text.position(exc.offset), exc.message, exc.hint)
            return None
        lowering = Lowering(self.table, self.segment, list(self.segment_nodes))
        cond = lowering.lower(tree)
        for err in lowering.errors:
            self.report.error(text.position(err.start), err.message, err.hint)
        return None if lowering.errors else cond

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
                cond = self.condition(value)  # type: ignore[arg-type]
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
        self.conditions[rule_id] = cond
        if "if" in values:
            self.explicit_if.add(rule_id)
        return Rule(rule_id, index, self.source.at(node).line, priority, triggers,
                    tuple(emit(cond)), action, freq, stop_after, sched, page_globs, share,
                    enabled)

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
