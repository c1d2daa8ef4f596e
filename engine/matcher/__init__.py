"""Which matcher runs: the compiled one (engine/matcher/compiled.pyx), or the pure-Python
reference when asked for (``ONDO_PUREPYTHON=1``, read once at start-up by the
caller, never at import time).

There is no silent fallback: if the extension is missing, asking for the
compiled matcher raises ImportError, and a test fails CI when the compiled
matcher is not the one that normally runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from rules.evaluate import evaluate
from rules.ruleset import Ruleset


class MatcherLike(Protocol):
    ruleset: Ruleset

    def __init__(self, ruleset: Ruleset) -> None: ...

    def match(self, profile: Mapping[str, Any], trigger: str = "pageview") -> list[str]: ...


class ReferenceMatcher:
    """The pure-Python twin: the reference evaluator behind the Matcher API."""

    implementation = "python"

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset

    def match(self, profile: Mapping[str, Any], trigger: str = "pageview") -> list[str]:
        return evaluate(self.ruleset, profile, trigger)


def pure_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for the pure-Python matcher."""
    env = os.environ if environ is None else environ
    return env.get("ONDO_PUREPYTHON", "") not in ("", "0")


def matcher_class(pure: bool = False) -> type[MatcherLike]:
    if pure:
        return ReferenceMatcher
    from engine.matcher.compiled import Matcher

    return Matcher


def implementation(cls: type[MatcherLike]) -> str:
    return "python" if cls is ReferenceMatcher else "cython"
