"""The forecast from the outside: traffic over real websockets into a real
engine on Redis, then the API, the progress stream and the CLI asked what a
draft would have done; they agree, and bad requests get clear answers. A
forecast past its time or memory budget is stopped with a typed answer, and
a caller that goes away (a closed connection, Ctrl-C in the CLI) stops its
forecast: the worker is gone and the site's slot free within a second."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import httpx
import pytest

from engine.forecast.service import Forecasts
from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import SEED_RULES, Engine, run_engine, site_config
from tests.engine.client import Visitor
from tests.engine.forecast.heavy import copy_recording_on, many_rules, wait_for, workers

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
    answer = forecast(node, LIVE, since="2026-11-01", until="2026-11-02")
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


@pytest.mark.parametrize(("bound", "text"), [
    ("since", "9" * 400 + "d"),  # was a 500 (an infinite time)
    ("since", "9" * 400),
    ("since", "1e400"),
    ("since", "99999999999h"),  # was a 503 (a time Redis cannot read)
    ("since", "0001-01-01"),  # was a 503
    ("until", "9999-12-31"),
    ("since", "2026-01-01"),  # older than any recording kept (90 days)
])
def test_a_bound_no_recording_can_hold_is_a_422_naming_it(node: Engine, bound: str,
                                                           text: str) -> None:
    browse(node, visitors=1)
    answer = forecast(node, LIVE, **{bound: text})
    assert (answer.status_code, answer.json()["field"]) == (422, bound), answer.text
    assert "is not a time" in answer.json()["error"] or \
        "is outside what a recording can hold: give a time from 2026-08-20 20:06 (90 days " \
        "before now) to 2026-11-19 20:06 (a day after now), Asia/Seoul" in answer.json()["error"]


# --- bounds and cancel: a forecast of seconds (1,000 rules over 20,000 entries)

HEAVY = many_rules(1_000)


def heavy_recording(engine: Engine, redis_url: str) -> None:
    browse(engine)
    copy_recording_on(redis_url, 20_000)


def forecasts_of(engine: Engine) -> Forecasts:
    found: Forecasts = engine.app.state.services.forecasts
    return found


def start_forecast(engine: Engine, draft: str, **params: str) -> socket.socket:
    """A forecast asked over a connection of its own, left open: the test
    decides when its caller goes away."""
    url = urlparse(engine.url)
    body = draft.encode()
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(f"POST /v1/sites/demo-shop/rules/forecast?{urlencode(params)} HTTP/1.1\r\n"
                 f"Host: {url.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Content-Type: application/yaml\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)
    return sock


def running(engine: Engine) -> bool:
    return forecasts_of(engine).running.get("demo-shop", 0) > 0 and bool(workers())


@pytest.mark.parametrize("progress", ["0", "1"], ids=["json", "stream"])
def test_a_caller_that_goes_away_stops_its_forecast(node: Engine, redis_url: str,
                                                     progress: str) -> None:
    heavy_recording(node, redis_url)
    caller = start_forecast(node, HEAVY, progress=progress)
    wait_for(lambda: running(node), 30)  # the engine compiled the draft, the worker runs
    caller.close()
    # The worker is killed at once and the slot is free: the next forecast runs.
    wait_for(lambda: not running(node) and not workers(), 1.0)
    answer = forecast(node, LIVE)
    assert answer.status_code == 200, answer.text


def test_ctrl_c_in_the_cli_stops_the_forecast(node: Engine, redis_url: str,
                                              tmp_path: Path) -> None:
    heavy_recording(node, redis_url)
    draft = tmp_path / "heavy.yaml"
    draft.write_text(HEAVY, encoding="utf-8")
    cli = subprocess.Popen(
        [sys.executable, "-m", "engine", "rules", "forecast", str(draft), "--site", "demo-shop",
         "--url", node.url, "--token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    try:
        wait_for(lambda: running(node), 30)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=10)
    finally:
        cli.kill()
    assert cli.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "ondo: forecast cancelled"
    wait_for(lambda: not running(node) and not workers(), 1.0)


def test_a_forecast_past_its_time_budget_is_stopped_with_a_422(redis_url: str) -> None:
    with run_engine(config(forecast_seconds=1), redis_url) as short:
        heavy_recording(short, redis_url)
        answer = forecast(short, HEAVY)
        assert answer.status_code == 422, answer.text
        assert answer.json() == {
            "error": "the forecast took longer than 1 s (the limit forecast_seconds): "
                     "forecast a shorter window", "field": "since", "limit": "forecast_seconds"}
        wait_for(lambda: not workers(), 1.0)
        # The progress stream ends with the same answer.
        *_, last = [json.loads(line) for line in
                    forecast(short, HEAVY, progress="1").text.splitlines()]
        assert (last["status"], last["limit"]) == (422, "forecast_seconds")
        assert forecasts_of(short).running == {"demo-shop": 0}
        assert forecast(short, LIVE, since="1h").status_code == 200


def test_a_forecast_past_its_memory_budget_is_stopped_with_a_413(redis_url: str) -> None:
    with run_engine(config(forecast_memory=1024 * 1024), redis_url) as small:
        browse(small, visitors=1)
        answer = forecast(small, LIVE)
        assert answer.status_code == 413, answer.text
        assert answer.json()["limit"] == "forecast_memory"
        assert "more than 1 MiB of memory" in answer.json()["error"]
        assert forecasts_of(small).running == {"demo-shop": 0}
        wait_for(lambda: not workers(), 1.0)
