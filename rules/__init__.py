"""Ondo's rule language: parse -> validate -> compile, and the reference evaluator.

Pure Python, no I/O beyond reading the text it is given. Public API::

    rules.load(path_or_text, *, name=None) -> Ruleset     # raises RuleFileError
    rules.check(text, name) -> Compiled                   # ruleset or None + problems
    rules.evaluate(ruleset, profile, trigger="pageview") -> list[str]
    rules.explain(ruleset, profile, trigger="pageview") -> list[RuleExplanation]
"""

from rules.compile import Compiled
from rules.errors import Problem, ProfileError, RuleFileError, RulesError, UnknownTriggerError
from rules.evaluate import evaluate
from rules.explain import explain
from rules.load import check, check_file, load
from rules.ruleset import Ruleset

__all__ = [
    "Compiled",
    "Problem",
    "ProfileError",
    "RuleFileError",
    "RulesError",
    "Ruleset",
    "UnknownTriggerError",
    "check",
    "check_file",
    "evaluate",
    "explain",
    "load",
]
