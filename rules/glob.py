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
