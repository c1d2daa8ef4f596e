"""``{{ variable | filter }}`` templates in widget content.

Compiled once per upload (``compile_template``: checked against the catalogue;
an unknown variable or filter is an error, never an empty string at run time)
and rendered per action (``render``: pure, from the flat profile).

Filters: ``default(x)`` (used when the value is missing), ``won`` (KRW:
``30000`` -> ``30,000원``), ``number`` (``30000`` -> ``30,000``). A variable
that may be missing from a profile needs ``default``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.catalogue import CATALOGUE, Kind, readable_names
from rules.conditions import did_you_mean
from rules.lexer import T, tokenize
from rules.ruleset import Constant, TemplatePart, TemplateVar

FILTERS = {"default": "default(value)", "won": "won", "number": "number"}
_NUMBER_FILTERS = ("won", "number")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TemplateError:
    message: str
    offset: int  # in the content text
    hint: str = ""


def compile_template(text: str) -> tuple[tuple[TemplatePart, ...], list[TemplateError]]:
    parts: list[TemplatePart] = []
    errors: list[TemplateError] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        var, problems = _placeholder(match.group(1), match.start(1))
        errors.extend(problems)
        if var is not None:
            parts.append(var)
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        errors.append(TemplateError("unterminated '{{'", position + rest.index("{{"),
                                    "close it with }}"))
    elif rest:
        parts.append(rest)
    return tuple(parts), errors


def _placeholder(body: str, offset: int) -> tuple[TemplateVar | None, list[TemplateError]]:
    pieces = body.split("|")
    starts = [offset]
    for piece in pieces[:-1]:
        starts.append(starts[-1] + len(piece) + 1)
    name = pieces[0].strip()
    name_at = starts[0] + len(pieces[0]) - len(pieces[0].lstrip())
    errors: list[TemplateError] = []
    attr = CATALOGUE.get(name)
    if not name:
        return None, [TemplateError("empty {{ }}", offset, "write {{ member_name }}")]
    if attr is None or attr.internal or attr.kind in (Kind.STRING_SET, Kind.COUPONS):
        hint = did_you_mean(name, readable_names()) or "see docs/attributes.md"
        what = "unknown variable" if attr is None or attr.internal else "cannot print"
        return None, [TemplateError(f"{what} '{name}' in template", name_at, hint)]
    filters: list[tuple[str, Constant]] = []
    for piece, start in zip(pieces[1:], starts[1:], strict=True):
        at = start + len(piece) - len(piece.lstrip())
        parsed = _filter(piece.strip())
        if parsed is None:
            fname = re.split(r"[\s(]", piece.strip(), maxsplit=1)[0]
            errors.append(TemplateError(
                f"unknown filter '{fname}'" if fname not in FILTERS
                else f"bad arguments for filter '{fname}'", at,
                did_you_mean(fname, list(FILTERS)) or "filters: " + ", ".join(FILTERS.values())))
            continue
        if parsed[0] in _NUMBER_FILTERS and attr.kind is not Kind.NUMBER:
            errors.append(TemplateError(f"filter '{parsed[0]}' needs a number; '{name}' is a "
                                        f"{attr.kind.value}", at))
            continue
        filters.append(parsed)
    if not attr.always and not any(f[0] == "default" for f in filters):
        errors.append(TemplateError(
            f"'{name}' may be missing for a visitor", name_at,
            f"add a default: {{{{ {name} | default('…') }}}}"))
    return TemplateVar(name, tuple(filters)), errors


def _filter(text: str) -> tuple[str, Constant] | None:
    m = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:\((.*)\))?", text, re.DOTALL)
    if not m or m.group(1) not in FILTERS:
        return None
    name, args = m.group(1), m.group(2)
    if name != "default":
        return (name, None) if args is None else None
    if args is None:
        return None
    try:
        tokens = tokenize(args)
    except Exception:
        return None
    if len(tokens) != 2 or tokens[0].kind not in (T.STRING, T.NUMBER):
        return None
    value = tokens[0].value
    assert isinstance(value, str | int | float)
    return name, value


def format_number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def render(parts: tuple[TemplatePart, ...], profile: Mapping[str, Any]) -> str:
    """The content text for one visitor. Never fails on a compiled template:
    a missing value takes its default (compiled templates always have one
    where a value may be missing), or renders as empty if the profile is
    incomplete in a way the catalogue did not foresee."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = profile.get(part.name)
        for name, arg in part.filters:
            if name == "default":
                if value is None or value == "":
                    value = arg
            elif name == "won" and isinstance(value, int | float):
                value = f"{format_number(value)}원"
            elif name == "number" and isinstance(value, int | float):
                value = format_number(value)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif _is_number(value):
            value = format_number(value) if isinstance(value, float) else str(value)
        out.append(str(value))
    return "".join(out)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
