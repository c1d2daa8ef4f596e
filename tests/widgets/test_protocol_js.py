from __future__ import annotations

from pathlib import Path

from engine.wire.protocol import as_js

GENERATED = Path(__file__).resolve().parents[2] / "widgets" / "src" / "protocol.js"


def test_the_widgets_protocol_constants_are_generated_from_engine_protocol() -> None:
    # Regenerate with: python -m engine.wire.protocol > widgets/src/protocol.js
    assert GENERATED.read_text(encoding="utf-8") == as_js()
