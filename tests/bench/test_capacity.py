"""The capacity harness itself: a short real run of the engine on its own Redis
(and on a local 3+3 cluster) gives per-event figures a broken measurement would
not: at least the one EVALSHA each event costs, bytes both ways, CPU, memory per
visitor, and on the cluster, events on every master."""

from __future__ import annotations

from typing import Any

from bench.capacity import measure, render

SHORT: dict[str, Any] = {"events": 400, "visitors": 30, "rules": 50, "warmup": 0.5,
                         "processes": 1, "max_seconds": 20.0}


def check(report: dict[str, Any]) -> None:
    assert report["events"] >= 400
    assert not report["errors"]
    per_event = report["per_event"]
    commands = {c["command"]: c["per_event"] for c in per_event["commands"]}
    assert commands["evalsha"] >= 1.0  # event.lua, once per event (live.lua besides)
    assert "info" not in commands  # the harness's own snapshots
    assert 1.0 <= per_event["commands_sent"] <= per_event["commands_all"]
    assert per_event["bytes_in"] > 100 and per_event["bytes_out"] > 50
    assert 0 < per_event["cpu_us"] < 100_000
    assert 0 < per_event["commandstats_us"] < 100_000
    memory = report["memory"]
    assert memory["visitors_with_keys"] == 30
    assert memory["used_memory_per_visitor"] > 0
    assert memory["visitor_keys_per_visitor"] > 100
    assert set(memory["by_suffix"]) >= {"p", "e"}
    text = render(report)
    assert "| EVALSHA |" in text and "bytes into Redis" in text


def test_a_short_run_on_one_redis() -> None:
    report = measure("single", **SHORT)
    check(report)
    assert len(report["masters"]) == 1
    assert report["per_event"]["replication_bytes_out"] == 0
    # the engine loads its scripts at start: no visitor's first event meets NOSCRIPT
    assert not any(c["failed_per_event"] for c in report["per_event"]["commands"])
    assert "script|exists" not in {c["command"] for c in report["per_event"]["commands"]}


def test_a_short_run_on_a_cluster_reaches_every_master() -> None:
    report = measure("cluster", **SHORT)
    check(report)
    masters = report["masters"]
    assert len(masters) == 3
    assert all(m["evalsha"] > 0 and m["profiles"] > 0 for m in masters)
    assert abs(sum(m["evalsha_share"] for m in masters) - 1) < 1e-9
    assert report["per_event"]["replication_bytes_out"] > 0  # the replicas were fed
    assert "| master |" in render(report)
