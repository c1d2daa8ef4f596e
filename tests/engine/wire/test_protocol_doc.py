from __future__ import annotations

from pathlib import Path

from engine.wire.protocol import RECONNECT, CloseCode, ErrorCode

DOC = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_every_error_code_is_documented() -> None:
    assert [c.value for c in ErrorCode if f"`{c.value}`" not in DOC] == []


def test_every_close_code_is_documented_with_its_reconnect_policy() -> None:
    for code in CloseCode:
        row = next((line for line in DOC.splitlines() if line.startswith(f"| {int(code)} |")),
                   None)
        assert row is not None, code
        assert ("reconnect" in row) is RECONNECT[code], row
