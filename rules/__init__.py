"""Ondo's rule language: parse -> validate -> compile, and the reference evaluator.

Pure Python, no I/O beyond reading the text it is given. Public API::

    rules.load(path_or_text, *, name=None) -> Ruleset     # raises RuleFileError
    rules.evaluate(ruleset, profile, trigger="pageview") -> list[str]
"""

from rules.errors import Problem, ProfileError, RuleFileError, RulesError, UnknownTriggerError
from rules.evaluate import evaluate
from rules.ruleset import Ruleset

__all__ = [
    "Problem",
    "ProfileError",
    "RuleFileError",
    "Ruleset",
    "RulesError",
    "UnknownTriggerError",
    "evaluate",
]
