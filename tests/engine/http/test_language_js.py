from __future__ import annotations

from pathlib import Path

from engine.http.language_js import as_js

GENERATED = Path(__file__).resolve().parents[3] / "console" / "src" / "language.js"


def test_the_consoles_facts_are_generated_from_python() -> None:
    # Regenerate with: python -m engine.http.language_js > console/src/language.js
    assert GENERATED.read_text(encoding="utf-8") == as_js()
