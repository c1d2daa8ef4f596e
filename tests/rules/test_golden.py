"""Golden tests: each bad rule file under tests/rules/bad gives exactly the
output stored beside it (``ondo rules check`` prints it the same way).

To accept a deliberate change of wording, regenerate with
``for f in tests/rules/bad/*.yaml; do ondo rules check $f > ${f%.yaml}.expected; done``
and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

BAD = Path(__file__).parent / "bad"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_file_gives_its_expected_report(path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    status = main(["rules", "check", str(path.relative_to(ROOT))])
    out = capsys.readouterr().out
    assert out == path.with_suffix(".expected").read_text(encoding="utf-8")
    assert status == (0 if "error:" not in out else 1)


def test_every_bad_file_reports_more_than_one_problem() -> None:
    # Files are checked whole: a run reports every mistake, not only the first.
    multi = [p for p in BAD.glob("*.expected") if p.read_text().count(": error: ") > 1]
    assert len(multi) >= 5
