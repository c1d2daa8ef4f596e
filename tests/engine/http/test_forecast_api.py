"""The forecast from the outside: traffic over real websockets into a real
engine on Redis, then the API, the progress stream and the CLI asked what a
draft would have done; they agree, and bad requests get clear answers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import SEED_RULES, Engine, run_engine, site_config
from tests.engine.client import Visitor

TOKEN = "admin-token-demo"
SHOP = "https://shop.example.com"
LIVE = SEED_RULES.read_text(encoding="utf-8")
# A draft that adds a higher-priority push note on every page from the third:
# it takes the signup nudge's place.
DRAFT = LIVE + """
  - id: winter-sale
    if: session_pageviews >= 3
    do: { widget: push_note, title: "겨울 세일", body: "오늘만 전 품목 10%" }
    frequency: always
    priority: 50
"""


def config(**limits: int) -> Config:
    token = hashlib.sha256(TOKEN.encode()).hexdigest()
    return Config(sites={"demo-shop": site_config(admin_token_sha256=token)},
                  limits=dataclasses.replace(LIMITS, **limits))


@pytest.fixture
def node(redis_url: str) -> Iterator[Engine]:
    with run_engine(config(), redis_url) as running:
        yield running


def forecast(engine: Engine, draft: str, **params: str) -> httpx.Response:
    return httpx.post(f"{engine.url}/v1/sites/demo-shop/rules/forecast", params=params,
                      content=draft.encode(), headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=60)


def browse(engine: Engine, visitors: int = 6, pages: int = 5) -> int:
    """First visits of ``pages`` pages each; the signup nudge fires on the fifth."""
    sent = 0
    for n in range(visitors):
        v = Visitor(engine, f"forecast-{n:04d}")
        for page in range(pages):
            v.page(f"{SHOP}/p{page}")
        sent += len(v.actions)
        v.close()
    return sent


def without_timing(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "elapsed_seconds"}


def test_the_live_file_as_a_draft_forecasts_what_the_visitors_received(node: Engine) -> None:
    sent = browse(node)
    assert sent == 6
    answer = forecast(node, LIVE)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["sent"] == {"live": sent, "draft": sent}
    assert result["changed_events"] == 0 and result["events"] == 30
    nudge = {r["rule"]: r for r in result["rules"]}["first-visit-signup-nudge"]
    assert (nudge["shown"], nudge["shown_visitors"], nudge["new"]) == (6, 6, False)
    assert result["timezone"] == "Asia/Seoul"
    metrics = httpx.get(f"{node.url}/metrics").text
    assert "ondo_recorded_total 30" in metrics and "ondo_recording_dropped_total 0" in metrics


def test_a_new_rule_takes_the_nudges_place_and_the_api_stream_and_cli_agree(
        node: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    browse(node)
    plain = forecast(node, DRAFT).json()
    sale = {r["rule"]: r for r in plain["rules"]}["winter-sale"]
    assert sale["new"] and sale["shown_visitors"] == 6
    nudge = {r["rule"]: r for r in plain["live_rules"]}["first-visit-signup-nudge"]
    assert (nudge["sent"], nudge["kept"], nudge["taken_by"]) == (6, 0, {"winter-sale": 6})

    lines = [json.loads(line) for line in
             forecast(node, DRAFT, progress="1").text.splitlines()]
    assert {line["progress"]["stage"] for line in lines[:-1]} == {"replaying"}
    assert lines[-2]["progress"]["done"] == lines[-2]["progress"]["total"] == 30
    assert without_timing(lines[-1]["forecast"]) == without_timing(plain)

    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT, encoding="utf-8")
    flags = ["--site", "demo-shop", "--url", node.url, "--token", TOKEN]
    assert main(["rules", "forecast", str(draft), "--json", *flags]) == 0
    assert without_timing(json.loads(capsys.readouterr().out)) == without_timing(plain)
    assert main(["rules", "forecast", str(draft), "--since", "2d", *flags]) == 0
    table = capsys.readouterr().out
    assert "winter-sale" in table and "new" in table
    assert "first-visit-signup-nudge: 6 sent live, 0 kept; taken by winter-sale 6" in table
    assert "not a causal estimate" in table


def test_a_draft_with_errors_gets_positioned_errors(node: Engine, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    broken = DRAFT.replace("session_pageviews >= 3", "session_pagevews >= 3")
    answer = forecast(node, broken)
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    line = broken.splitlines().index("    if: session_pagevews >= 3") + 1
    assert (error["line"], error["column"]) == (line, 9)
    assert "session_pageviews" in error["hint"]
    draft = tmp_path / "broken.yaml"
    draft.write_text(broken, encoding="utf-8")
    flags = ["--site", "demo-shop", "--url", node.url, "--token", TOKEN]
    assert main(["rules", "forecast", str(draft), *flags]) == 1
    assert f"{draft}:{line}:9: error:" in capsys.readouterr().err


def test_a_window_without_traffic_says_what_is_recorded(node: Engine) -> None:
    browse(node, visitors=1)
    answer = forecast(node, LIVE, since="2026-01-01", until="2026-01-02")
    assert answer.status_code == 422
    assert answer.json()["field"] == "since"
    assert "the recording covers 2026-11-18 20:06 to 2026-11-18 20:06 (Asia/Seoul)" in \
        answer.json()["error"]
    assert answer.json()["recording"]["entries"] == 5
    bad = forecast(node, LIVE, since="yesterday")
    assert (bad.status_code, bad.json()["field"]) == (422, "since")
    assert "24h" in bad.json()["error"]


def test_a_second_forecast_of_the_site_at_once_is_refused(node: Engine) -> None:
    browse(node, visitors=1)
    forecasts = node.app.state.services.forecasts
    forecasts.running["demo-shop"] = 1  # one is running
    try:
        answer = forecast(node, LIVE)
        assert (answer.status_code, answer.json()["field"]) == (429, "site")
        assert "forecasts_per_site" in answer.json()["error"]
    finally:
        forecasts.running["demo-shop"] = 0


def test_a_window_over_the_limit_is_refused_with_the_limit(redis_url: str) -> None:
    with run_engine(config(forecast_entries=10), redis_url) as small:
        browse(small, visitors=3)
        answer = forecast(small, LIVE)
        assert answer.status_code == 413
        assert "10 recorded entries" in answer.json()["error"]
