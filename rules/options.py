"""Reading the option values of a rule file (durations, frequency, schedule,
pages, holdout, links, arming) from YAML nodes, with positioned problems.

Each reader takes a node and a ``Report`` and returns the normalised value of
``rules.ruleset`` (or None after recording a problem), so the file compiler can
keep going and report every mistake in one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from rules.catalogue import WEEKDAYS
from rules.conditions import did_you_mean
from rules.errors import Problem, Severity
from rules.lexer import DURATION_UNITS
from rules.links import UnsafeLink, read_link
from rules.ruleset import Frequency, Pages, Schedule
from rules.source import (
    Located,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    Source,
    is_string,
    scalar_value,
)


@dataclass
class Report:
    """Problems found so far in one file."""

    source: Source
    problems: list[Problem] = field(default_factory=list)

    def error(self, where: Node | Located, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(where, message, hint))

    def warn(self, where: Node | Located, message: str, hint: str = "") -> None:
        p = self.source.problem(where, message, hint)
        self.problems.append(Problem(p.file, p.line, p.column, p.message, p.hint,
                                     Severity.WARNING))


def kind_of(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if not isinstance(node, ScalarNode):
        return "a list"
    value = scalar_value(node)
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the text {str(value)!r}"


def mapping_items(node: MappingNode, report: Report,
                  allowed: tuple[str, ...], where: str) -> Iterator[tuple[str, Node, Node]]:
    """(key, key node, value node) of a mapping; unknown or repeated keys are
    reported with a did-you-mean and skipped."""
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            report.error(key_node, f"expected a key of {where}")
            continue
        if key not in allowed:
            report.error(key_node, f"unknown key '{key}' in {where}",
                         did_you_mean(key, list(allowed)) or "allowed: " + ", ".join(allowed))
            continue
        if key in seen:
            report.error(key_node, f"key '{key}' appears twice in {where}")
            continue
        seen.add(key)
        yield key, key_node, value_node


def string(node: Node, report: Report, what: str) -> str | None:
    if not isinstance(node, ScalarNode) or scalar_value(node) is None:
        report.error(node, f"expected text for {what}, found {kind_of(node)}")
        return None
    return str(node.value)


def integer(node: Node, report: Report, what: str, low: int, high: int) -> int | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int):
        report.error(node, f"expected a whole number for {what}, found {kind_of(node)}")
        return None
    if not low <= value <= high:
        report.error(node, f"{what} must be between {low} and {high}, found {value}")
        return None
    return value


def boolean(node: Node, report: Report, what: str) -> bool | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, bool):
        report.error(node, f"expected true or false for {what}, found {kind_of(node)}")
        return None
    return value


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


def duration(node: Node, report: Report, what: str) -> float | None:
    """Seconds, from ``30s``/``10m``/``3d`` (or a plain number of seconds)."""
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if m:
            return float(m.group(1)) * DURATION_UNITS[m.group(2)]
    report.error(node, f"expected a duration for {what}, found {kind_of(node)}",
                 "durations look like 30s, 10m, 2h, 3d, 2w")
    return None


def whole_seconds(node: Node, report: Report, what: str) -> int | None:
    seconds = duration(node, report, what)
    return None if seconds is None else int(seconds)


FREQUENCY_NAMES = {
    "once_per_session": Frequency(1, "session"),
    "once_per_day": Frequency(1, "day"),
    "once_per_visitor": Frequency(1, "visitor"),
}
FREQUENCY_HINT = "once_per_session, once_per_day, once_per_visitor, always, or {max: 2, per: 7d}"


def frequency(node: Node, report: Report) -> Frequency | bool | None:
    """A Frequency; None for ``always``; False after an error."""
    if isinstance(node, ScalarNode):
        name = node.value
        if name == "always":
            return None
        if name in FREQUENCY_NAMES:
            return FREQUENCY_NAMES[name]
        report.error(node, f"unknown frequency {name!r}",
                     did_you_mean(name, [*FREQUENCY_NAMES, "always"]) or FREQUENCY_HINT)
        return False
    if not isinstance(node, MappingNode):
        report.error(node, f"expected a frequency, found {kind_of(node)}", FREQUENCY_HINT)
        return False
    most: int | None = None
    per: Frequency | None = None
    ok = True
    for key, _, value in mapping_items(node, report, ("max", "per"), "frequency"):
        if key == "max":
            most = integer(value, report, "frequency max", 1, 1000)
            ok = ok and most is not None
        else:
            word = value.value if isinstance(value, ScalarNode) else None
            if word in ("session", "day", "visitor"):
                per = Frequency(1, str(word))
            else:
                seconds = whole_seconds(value, report, "frequency per")
                if seconds is not None and seconds <= 0:
                    report.error(value, "frequency per must be longer than 0s")
                    seconds = None
                ok = ok and seconds is not None
                per = None if seconds is None else Frequency(1, "window", seconds)
    if ok and (most is None or per is None):
        report.error(node, "frequency needs both max and per", "e.g. {max: 1, per: 7d}")
        return False
    if not ok or most is None or per is None:
        return False
    return Frequency(most, per.per, per.seconds)


_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def schedule(node: Node, report: Report) -> Schedule | None:
    if not isinstance(node, MappingNode):
        report.error(node, f"expected a schedule mapping, found {kind_of(node)}",
                     'e.g. {from: "2026-12-01", until: "2026-12-26", hours: "20:00-24:00"}')
        return None
    starts = ends = None
    weekdays: tuple[str, ...] = ()
    hours: list[tuple[int, int]] = []
    for key, _, value in mapping_items(node, report, ("from", "until", "weekdays", "hours"),
                                       "schedule"):
        if key in ("from", "until"):
            text = value.value if isinstance(value, ScalarNode) else None
            when = _local_time(str(text)) if text is not None else None
            if when is None:
                report.error(value, f"expected a date or date-time for {key}",
                             'e.g. "2026-12-01" or "2026-12-01 09:00" (site time zone)')
            elif key == "from":
                starts = when
            else:
                ends = when
        elif key == "weekdays":
            weekdays = _weekdays(value, report)
        else:
            items = value.value if isinstance(value, SequenceNode) else [value]
            for item in items:
                m = _HOURS.fullmatch(str(item.value)) if isinstance(item, ScalarNode) else None
                window = None
                if m:
                    h1, m1, h2, m2 = (int(g) for g in m.groups())
                    if h1 <= 24 and h2 <= 24 and m1 < 60 and m2 < 60:
                        window = ((h1 * 60 + m1) % 1440, (h2 * 60 + m2) % 1440 or 1440)
                if window is None or window[0] == window[1] % 1440:
                    report.error(item, "expected an hour window like \"22:00-02:00\"",
                                 "HH:MM-HH:MM in the site's time zone; it may cross midnight")
                else:
                    hours.append(window)
    if starts and ends and ends <= starts:
        report.error(node, f"schedule ends ({ends}) before it starts ({starts})")
    return Schedule(starts, ends, weekdays, tuple(hours))


def _local_time(text: str) -> str | None:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is not None:
        return None
    return when.isoformat(timespec="minutes")


def _weekdays(node: Node, report: Report) -> tuple[str, ...]:
    items = node.value if isinstance(node, SequenceNode) else [node]
    days: list[str] = []
    for item in items:
        text = str(item.value).strip().lower() if isinstance(item, ScalarNode) else ""
        if "-" in text and all(p in WEEKDAYS for p in text.split("-")):
            first, last = (WEEKDAYS.index(p) for p in text.split("-"))
            span = range(first, last + 1) if first <= last else [*range(first, 7),
                                                                   *range(0, last + 1)]
            days.extend(WEEKDAYS[i] for i in span)
        elif text[:3] in WEEKDAYS and text in (text[:3], _full_day(text[:3])):
            days.append(text[:3])
        else:
            report.error(item, f"unknown weekday {text!r}",
                         did_you_mean(text, list(WEEKDAYS)) or "mon tue wed thu fri sat sun, "
                         "or a range like mon-fri")
    return tuple(d for d in WEEKDAYS if d in days)


def _full_day(short: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[short]


def _globs(node: Node, report: Report) -> tuple[str, ...]:
    items = node.value if isinstance(node, SequenceNode) else [node]
    out: list[str] = []
    for item in items:
        if not is_string(item):
            report.error(item, f"expected a path glob, found {kind_of(item)}", 'e.g. "/product/*"')
            continue
        glob = str(item.value)
        if "://" in glob or ("?" in glob and "=" in glob) or not glob.startswith(("/", "*")):
            report.error(item, f"pages globs match the page path only, found {glob!r}",
                         'write a path like "/product/*"; read query parameters with '
                         'param("name") in the condition')
            continue
        out.append(glob)
    return tuple(out)


def pages(node: Node, report: Report) -> Pages | None:
    if isinstance(node, MappingNode):
        include: tuple[str, ...] = ()
        exclude: tuple[str, ...] = ()
        for key, _, value in mapping_items(node, report, ("include", "exclude"), "pages"):
            if key == "include":
                include = _globs(value, report)
            else:
                exclude = _globs(value, report)
        return Pages(include, exclude)
    return Pages(_globs(node, report), ())


def holdout(node: Node, report: Report) -> float | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    share: float | None = None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*%\s*", value):
        share = float(value.strip().rstrip("%")) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
    if share is None or not 0 <= share <= 0.9:
        report.error(node, f"expected a holdout share between 0% and 90%, found {kind_of(node)}",
                     'e.g. holdout: "10%" (or 0.1): that share of matching visitors sees '
                     "nothing, to measure lift")
        return None
    return round(share, 6)


def link(node: Node, report: Report, what: str) -> str | None:
    text = string(node, report, what)
    if text is None:
        return None
    text = text.strip()
    try:
        read_link(text)  # an http(s) address or a path on the shop, as a browser reads it
    except UnsafeLink as problem:
        # As written (a backslash shown once), unless it hides control characters.
        shown = f"'{text}'" if text.isprintable() else repr(text)
        report.error(node, f"unsafe {what}: {shown} {problem}",
                     "links must be http(s) URLs or paths on the shop, like /coupon?code=X")
        return None
    return text
