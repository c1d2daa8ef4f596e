"""The errors of the rule language, in one small tree::

    RulesError                      base of everything rules/ raises on purpose
    ├── RuleFileError               a rule file was rejected; .errors lists every Problem
    ├── ProfileError                a profile value has the wrong type for its attribute
    └── UnknownTriggerError         evaluation asked for a trigger the language lacks

A ``Problem`` is one finding about a file: where (file, line, column, 1-based,
the column pointing inside the YAML scalar for expressions), what (message),
and how to fix it (hint). ``ondo rules check``, the HTTP API's 422 body and
the golden tests all print problems through ``Problem.format``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def format(self) -> str:
        """``FILE:LINE:COL: error: message``, then an indented hint line if any."""
        text = f"{self.file}:{self.line}:{self.column}: {self.severity.value}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.column)


class RulesError(Exception):
    """Base class of the errors raised by the rules package."""


class RuleFileError(RulesError):
    """A rule file was rejected. ``errors`` holds every error found (never empty);
    ``warnings`` the warnings found alongside."""

    def __init__(self, errors: Sequence[Problem], warnings: Iterable[Problem] = ()) -> None:
        if not errors:
            raise ValueError("RuleFileError needs at least one error")
        self.errors: list[Problem] = sorted(errors, key=Problem.sort_key)
        self.warnings: list[Problem] = sorted(warnings, key=Problem.sort_key)
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(p.format() for p in self.errors)


class ProfileError(RulesError, TypeError):
    """A profile holds a value of the wrong type for an attribute, e.g.
    ``visit_count="3"``. Raised identically by the reference evaluator and the
    matcher; never a silent false."""

    def __init__(self, attribute: str, expected: str, got: object) -> None:
        self.attribute = attribute
        self.expected = expected
        self.got = type(got).__name__
        super().__init__(f"profile attribute {attribute!r} must be {expected}, got {self.got}")


class UnknownTriggerError(RulesError, ValueError):
    """``evaluate``/``Matcher.match`` was asked for a trigger not in ``TRIGGERS``."""

    def __init__(self, trigger: str) -> None:
        self.trigger = trigger
        super().__init__(f"unknown trigger {trigger!r}")
