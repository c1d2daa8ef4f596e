"""A rule's `do:`: the widget, its content (templates, safe links, positions)
and client-side arming, read from YAML nodes with positioned problems."""

from __future__ import annotations

import re

from rules import options
from rules.conditions import did_you_mean
from rules.options import Report, kind_of, mapping_items
from rules.ruleset import (
    CARD_WIDGETS,
    RECOMMENDATIONS,
    WIDGETS,
    Action,
    Arming,
    Recommend,
    TemplatePart,
)
from rules.source import MappingNode, Node, ScalarNode, Source, scalar_value
from rules.template import compile_template

ARMING_KEYS = ("delay", "scroll", "exit_intent", "idle")
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "right", "left")

# Content fields of each widget: (required, optional). Text fields are templates.
WIDGET_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "popcorn_button": (("text",), ("link", "icon", "position")),
    "push_note": (("title",), ("body", "link", "image", "duration")),
    "round_floating": ((), ("text", "image", "link", "position")),
    "bookmark_prompt": (("text",), ()),
}
TEXT_FIELDS = ("text", "title", "body", "icon")
URL_FIELDS = ("link", "image")
MAX_TEXT = 500


def read_action(node: Node, source: Source, report: Report) -> Action | None:
    """A rule's `do:` as an Action, or None after reporting what is wrong."""
    if not isinstance(node, MappingNode):
        report.error(node, f"expected `do` as a mapping with a widget, found {kind_of(node)}",
                     "e.g. do: {widget: push_note, title: \"...\"}")
        return None
    widget_node = next((v for k, v in node.value if k.value == "widget"), None)
    widget = widget_node.value if isinstance(widget_node, ScalarNode) else None
    if widget_node is None:
        report.error(node, "`do` needs a widget", "widget: " + " | ".join(WIDGETS))
        return None
    if widget not in WIDGETS:
        report.error(widget_node, f"unknown widget {widget!r}",
                     did_you_mean(str(widget), list(WIDGETS))
                     or "widgets: " + ", ".join(WIDGETS))
        return None
    required, optional = WIDGET_FIELDS[widget]
    allowed = ("widget", *required, *optional, *ARMING_KEYS, "login_required", "recommend")
    recommend: Recommend | None = None
    content: dict[str, tuple[TemplatePart, ...]] = {}
    arming: dict[str, float | int | bool] = {}
    login_required = False
    ok = True
    for key, _, value in mapping_items(node, report, allowed, f"a {widget}"):
        if key == "widget":
            continue
        if key in TEXT_FIELDS:
            parts = _text(value, key, source, report)
            ok = ok and parts is not None
            if parts is not None:
                content[key] = parts
        elif key in URL_FIELDS:
            url = options.link(value, report, key)
            ok = ok and url is not None
            if url is not None:
                content[key] = (url,)
        elif key == "position":
            where = value.value if isinstance(value, ScalarNode) else None
            if where not in POSITIONS:
                report.error(value, f"unknown position {where!r}",
                             did_you_mean(str(where), list(POSITIONS))
                             or "positions: " + ", ".join(POSITIONS))
                ok = False
            else:
                content[key] = (str(where),)
        elif key == "duration":
            seconds = options.duration(value, report, "duration")
            ok = ok and seconds is not None
            if seconds is not None:
                content[key] = (f"{seconds:g}",)
        elif key in ("delay", "idle"):
            seconds = options.duration(value, report, key)
            ok = ok and seconds is not None
            arming[key] = seconds or 0.0
        elif key == "scroll":
            pct = _percent(value, report)
            ok = ok and pct is not None
            arming[key] = pct or 0
        elif key == "exit_intent":
            flag = options.boolean(value, report, key)
            ok = ok and flag is not None
            arming[key] = bool(flag)
        elif key == "recommend":
            if widget not in CARD_WIDGETS:
                report.error(value, f"{widget} cannot show product cards",
                             "recommend on a " + ", ".join(CARD_WIDGETS))
                ok = False
                continue
            recommend = _recommend(value, report)
            ok = ok and recommend is not None
        else:
            login_required = options.boolean(value, report, key) is True
    given = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
    for key in required:
        if key not in given:
            report.error(node, f"{widget} needs `{key}`", f'add {key}: "..."')
            ok = False
    if widget == "round_floating" and not given & {"text", "image"}:
        report.error(node, "round_floating needs `text` or `image`")
        ok = False
    if login_required and "link" not in given:
        report.error(node, "login_required needs a `link`")
        ok = False
    if not ok:
        return None
    return Action(widget, content, Arming(**arming), login_required,  # type: ignore[arg-type]
                  recommend)


def _recommend(node: Node, report: Report) -> Recommend | None:
    """``recommend: {kind: bought_together, of: product | cart, count: 1-6}``."""
    if not isinstance(node, MappingNode):
        report.error(node, f"expected recommend as a mapping, found {kind_of(node)}",
                     "e.g. recommend: {kind: bought_together, of: product, count: 3}")
        return None
    values: dict[str, str | int] = {}
    ok = True
    for key, _, value in mapping_items(node, report, ("kind", "of", "count"), "recommend"):
        if key == "count":
            count = options.integer(value, report, "count", 1, 6)
            ok = ok and count is not None
            values[key] = count or 0
            continue
        word = value.value if isinstance(value, ScalarNode) else None
        choices = RECOMMENDATIONS if key == "kind" else ("product", "cart")
        if word not in choices:
            report.error(value, f"unknown {key} {word!r}",
                         did_you_mean(str(word), list(choices)) or f"{key}: "
                         + " | ".join(choices))
            ok = False
        else:
            values[key] = str(word)
    if "kind" not in values and ok:
        report.error(node, "recommend needs a kind", "kind: " + " | ".join(RECOMMENDATIONS))
        ok = False
    return Recommend(**values) if ok else None  # type: ignore[arg-type]

def _text(node: Node, what: str, source: Source, report: Report) -> tuple[TemplatePart, ...] | None:
    if not isinstance(node, ScalarNode) or scalar_value(node) is None:
        report.error(node, f"expected text for {what}, found {kind_of(node)}")
        return None
    text = source.scalar_text(node)
    if len(text.text) > MAX_TEXT:
        report.error(node, f"{what} is too long: {len(text.text)} characters "
                          f"(limit {MAX_TEXT})")
        return None
    parts, errors = compile_template(text.text)
    for err in errors:
        report.error(text.position(err.offset), err.message, err.hint)
    return None if errors else parts

def _percent(node: Node, report: Report) -> int | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}\s*%\s*", value):
        value = int(value.strip().rstrip("%"))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        report.error(node, f"expected a scroll depth 0-100%, found {kind_of(node)}",
                          'e.g. scroll: "50%"')
        return None
    return value
