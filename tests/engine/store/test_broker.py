"""Messages between engine nodes (contract): every node on the same storage
hears every message, in order; a follower reads the active versions once
subscribed and now and then; a failing handler does not stop it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from engine.store.base import PUSH_CHANNEL, RESYNC, RULES_CHANNEL, Store, StoreUnavailable
from tests.engine.store.stores import Run


class Listener:
    """One node's follower, running on the loop ``run`` runs on."""

    def __init__(self, run: Run, store: Store, *, resync: float = RESYNC,
                 fails_on: str | None = None) -> None:
        self.messages: list[tuple[str, str]] = []
        self.syncs = 0
        self.fails_on = fails_on
        self.stop = asyncio.Event()
        self.task = run(self._start(store, resync))

    async def _start(self, store: Store, resync: float) -> asyncio.Task[None]:
        follow = store.broker.follow(self.on_message, self.on_subscribed, self.stop,
                                     resync=resync)
        return asyncio.create_task(follow)

    async def on_message(self, channel: str, message: str) -> None:
        self.messages.append((channel, message))
        if message == self.fails_on:
            raise RuntimeError("a handler failed")

    async def on_subscribed(self) -> None:
        self.syncs += 1
        if self.fails_on == "sync":
            raise StoreUnavailable("the versions could not be read")

    async def close(self) -> None:
        """Stop the follower; it returns by itself."""
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=5)


async def closed(*listeners: Listener) -> None:
    await asyncio.gather(*(listener.close() for listener in listeners))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for what another task (a follower) does."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_every_node_hears_every_message_in_order(store: Store, other_node: Store,
                                                 run: Run) -> None:
    nodes = [Listener(run, store), Listener(run, other_node)]
    run(until(lambda: all(node.syncs == 1 for node in nodes)))
    sent = [(PUSH_CHANNEL, '{"n": 1}'), (RULES_CHANNEL, "shop v2"), (PUSH_CHANNEL, '{"n": 2}')]
    for channel, message in sent:
        run(store.broker.publish(channel, message))
    run(other_node.broker.publish(PUSH_CHANNEL, "from the other node"))
    sent.append((PUSH_CHANNEL, "from the other node"))
    run(until(lambda: all(len(node.messages) == len(sent) for node in nodes)))
    assert [node.messages for node in nodes] == [sent, sent]
    run(closed(*nodes))


def test_only_the_engines_channels_are_followed(store: Store, run: Run) -> None:
    node = Listener(run, store)
    run(until(lambda: node.syncs == 1))
    run(store.broker.publish("elsewhere", "not for us"))
    run(store.broker.publish(PUSH_CHANNEL, "for us"))
    run(until(lambda: len(node.messages) == 1))
    assert node.messages == [(PUSH_CHANNEL, "for us")]
    run(node.close())


def test_activating_a_version_announces_site_and_version(store: Store, other_node: Store,
                                                         run: Run) -> None:
    node = Listener(run, other_node)
    run(until(lambda: node.syncs == 1))
    run(store.versions.save("shop", "v1", "rules: []", "first", 0, 1.0))
    assert run(store.versions.activate("shop", "v1"))
    run(until(lambda: node.messages == [(RULES_CHANNEL, "shop v1")]))
    run(node.close())


def test_a_follower_catches_up_once_subscribed_and_now_and_then(store: Store,
                                                                run: Run) -> None:
    node = Listener(run, store, resync=0.05)
    run(until(lambda: node.syncs >= 2))  # Redis's follower looks every half second
    run(node.close())


def test_a_failing_handler_does_not_stop_the_follower(store: Store, run: Run) -> None:
    node = Listener(run, store, fails_on="boom")
    run(until(lambda: node.syncs == 1))
    for message in ("boom", "after"):
        run(store.broker.publish(PUSH_CHANNEL, message))
    run(until(lambda: len(node.messages) == 2))
    assert node.messages[-1] == (PUSH_CHANNEL, "after")
    run(node.close())


def test_a_catch_up_that_fails_is_tried_again_later(store: Store, run: Run) -> None:
    node = Listener(run, store, resync=0.05, fails_on="sync")
    run(until(lambda: node.syncs >= 2))
    run(store.broker.publish(PUSH_CHANNEL, "still listening"))
    run(until(lambda: node.messages == [(PUSH_CHANNEL, "still listening")]))
    run(node.close())
