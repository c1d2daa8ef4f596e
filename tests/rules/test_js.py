from __future__ import annotations

from pathlib import Path

from rules.js import as_js

GENERATED = Path(__file__).resolve().parents[2] / "console" / "src" / "language.js"


def test_the_consoles_language_facts_are_generated_from_the_rules_package() -> None:
    # Regenerate with: python -m rules.js > console/src/language.js
    assert GENERATED.read_text(encoding="utf-8") == as_js()
