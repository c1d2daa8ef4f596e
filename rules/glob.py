"""Globs as rules use them (``page_path matches "/product/*"``, ``pages:``).

``*`` matches any run of characters, ``/`` included; ``?`` exactly one
character; everything else is literal (no brackets, no escapes). Matching is
case-sensitive and covers the whole string.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    return compile_glob(pattern).fullmatch(text) is not None


def glob_shape(pattern: str) -> tuple[str, str]:
    """The cheapest test equivalent to a glob, for evaluators that care:
    ("equal" | "prefix" | "suffix" | "infix", literal), or ("regex", pattern)."""
    if "?" in pattern:
        return "regex", pattern
    stars = pattern.count("*")
    literal = pattern.replace("*", "")
    if stars == 0:
        return "equal", pattern
    if stars == 1 and pattern.endswith("*"):
        return "prefix", literal
    if stars == 1 and pattern.startswith("*"):
        return "suffix", literal
    if stars == 2 and pattern.startswith("*") and pattern.endswith("*") and len(pattern) > 1:
        return "infix", literal
    return "regex", pattern
