"""A site's rules while a new version is built off the loop: it serves the
rules it has until the new ones are ready, swaps at once, and the version
asked for last wins, however the builds race."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

import rules
from bench.workload import rule_file
from engine.matcher import matcher_class
from engine.runtime.jobs import Jobs, TooSlow
from engine.runtime.site import ActiveRules, LiveSite, compile_version
from engine.store.base import source_version
from engine.wire.protocol import LIMITS
from tests.conftest import site_config


def version(title: str) -> tuple[str, str]:
    source = f"""site: demo-shop
rules:
  - id: welcome
    if: visit_count >= 1
    do: {{ widget: push_note, title: "{title}" }}
"""
    return source_version(source), source


def built(title: str) -> ActiveRules:
    ident, source = version(title)
    return ActiveRules.build(rules.load(source), matcher_class(), ident, source)


def title(site: LiveSite) -> str:
    assert site.rules is not None
    return str(site.rules.by_id["welcome"].action.content["title"][0])


def shop(first: str = "v1") -> LiveSite:
    return LiveSite(site_config(rules=None), built(first))


def slow(active: ActiveRules, gate: asyncio.Event) -> Callable[[], Awaitable[ActiveRules]]:
    async def build() -> ActiveRules:
        await gate.wait()  # a compile that takes its time
        return active

    return build


def test_the_site_serves_its_rules_until_the_new_ones_are_built() -> None:
    site = shop()

    async def main() -> None:
        gate = asyncio.Event()
        v2 = built("v2")
        task = site.activate(v2.version, slow(v2, gate))
        assert task is not None
        await asyncio.sleep(0.05)
        assert title(site) == "v1"
        gate.set()
        await task
        assert title(site) == "v2"
        assert site.activate(v2.version, slow(v2, gate)) is None  # live already

    asyncio.run(main())


@pytest.mark.parametrize("first_done_first", [True, False])
def test_two_announcements_racing_end_on_the_last(first_done_first: bool) -> None:
    site = shop()

    async def main() -> None:
        v2, v3 = built("v2"), built("v3")
        gates = asyncio.Event(), asyncio.Event()
        older = site.activate(v2.version, slow(v2, gates[0]))
        newer = site.activate(v3.version, slow(v3, gates[1]))
        assert older is not None and newer is not None
        for gate in gates if first_done_first else reversed(gates):
            gate.set()
            await asyncio.sleep(0.01)
        await asyncio.wait({older, newer})
        assert older.cancelled()
        assert title(site) == "v3"

    asyncio.run(main())


def test_the_same_version_announced_twice_is_built_once() -> None:
    site = shop()
    builds = []

    async def main() -> None:
        v2 = built("v2")

        async def build() -> ActiveRules:
            builds.append(1)
            await asyncio.sleep(0.05)
            return v2

        first = site.activate(v2.version, build)
        assert site.activate(v2.version, build) is first
        assert first is not None
        await first

    asyncio.run(main())
    assert builds == [1] and title(site) == "v2"


def test_an_upload_built_here_does_not_undo_a_newer_announcement() -> None:
    site = shop()

    async def main() -> None:
        mine, theirs = built("mine"), built("theirs")
        asked = site.asked  # the upload activates its version in the store here...
        announced = site.activate(theirs.version, slow(theirs, asyncio.Event()))
        # ... and another node's newer version is announced before it goes live
        assert not site.go_live(mine, since=asked)
        assert announced is not None and not announced.done()
        # Its own announcement, on the other hand, is no reason to wait.
        site2 = shop()
        asked = site2.asked
        own = site2.activate(mine.version, slow(mine, asyncio.Event()))
        assert site2.go_live(mine, since=asked)
        assert title(site2) == "mine"
        await asyncio.sleep(0)
        assert own is not None and own.cancelled()
        announced.cancel()

    asyncio.run(main())
    assert title(site) == "v1"


def test_a_version_that_cannot_be_built_is_logged_and_the_site_serves_on(
        caplog: pytest.LogCaptureFixture) -> None:
    site = shop()
    jobs = Jobs(dataclasses.replace(LIMITS, job_seconds=0.2))
    source = rule_file(2_000).replace("site: bench", "site: demo-shop", 1)  # a second's work
    v2 = source_version(source)

    async def main() -> None:
        try:
            task = site.activate(v2, lambda: compile_version(jobs, site, v2, source,
                                                             matcher_class()))
            assert task is not None
            await asyncio.wait({task})
            assert isinstance(task.exception(), TooSlow)
        finally:
            await jobs.close()

    asyncio.run(main())
    assert title(site) == "v1"
    (line,) = [r for r in caplog.records if r.name == "ondo.rules"]
    assert line.getMessage().startswith(f"site demo-shop: version {v2} could not go live on "
                                        "this node (the rule file took more than 0.2 s")
    assert line.exc_info is None


def test_a_version_compiled_in_a_worker_goes_live() -> None:
    site = shop()
    jobs = Jobs(LIMITS)
    v2, source = version("v2")

    async def main() -> None:
        try:
            task = site.activate(v2, lambda: compile_version(jobs, site, v2, source,
                                                             matcher_class()))
            assert task is not None
            await task
        finally:
            await jobs.close()

    asyncio.run(main())
    assert title(site) == "v2"
