# Type stub for the compiled matcher (engine/matcher/compiled.pyx).
from collections.abc import Mapping
from typing import Any

from rules.ruleset import Ruleset

IMPLEMENTATION: str

class Matcher:
    ruleset: Ruleset
    def __init__(self, ruleset: Ruleset) -> None: ...
    def match(self, profile: Mapping[str, Any], trigger: str = "pageview") -> list[str]: ...
