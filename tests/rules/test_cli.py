"""``ondo rules check`` and ``ondo rules explain`` as a marketer uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"


def test_check_passes_on_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", *map(str, sorted(LIBRARY.glob("*.yaml")))]) == 0
    out = capsys.readouterr().out
    assert "seed-recipes.yaml: ok: 4 rules" in out


def test_check_prints_file_line_col_and_hint(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: s\nrules:\n  - id: a\n    if: vist_count > 1\n"
                   "    do: {widget: push_note, title: t}\n", encoding="utf-8")
    assert main(["rules", "check", str(bad)]) == 1
    assert capsys.readouterr().out == (
        f"{bad}:4:9: error: unknown attribute or segment 'vist_count'\n"
        "    hint: did you mean 'visit_count'?\n")


def test_check_reports_an_unreadable_file(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read file" in capsys.readouterr().out


def test_explain_shows_each_predicate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"visit_count": 2, "traffic_source": "organic"}))
    assert main(["rules", "explain", str(LIBRARY / "seed-recipes.yaml"),
                 "--profile", str(profile)]) == 0
    out = capsys.readouterr().out
    assert "no    bookmark-ad-returners" in out
    assert '✓ visit_count >= 2   [2]' in out
    assert '✗ traffic_source in ["google_ads", "kakao_ads", "naver_ads"]   ["organic"]' in out


def test_explain_rejects_a_badly_typed_profile(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"visit_count": "2"}))
    assert main(["rules", "explain", str(LIBRARY / "seed-recipes.yaml"),
                 "--profile", str(profile)]) == 1
    assert "'visit_count' must be a finite number, got str" in capsys.readouterr().err
