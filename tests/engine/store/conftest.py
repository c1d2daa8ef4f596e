"""Every store test is a contract: it runs on the Lua store against a real
Redis and on the in-memory store (tests/engine/store/stores.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.store.base import Store
from tests.engine.store.stores import STORES, Driver, Run, another_node, event_loop, open_store


@pytest.fixture
def run() -> Iterator[Run]:
    with event_loop() as run:
        yield run


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, run: Run) -> Iterator[Store]:
    store = open_store(request.param, request)
    yield store
    run(store.close())


@pytest.fixture
def other_node(store: Store, run: Run) -> Iterator[Store]:
    """A second engine node on the same storage as ``store``."""
    node = another_node(store)
    yield node
    run(node.close())


@pytest.fixture
def driver(store: Store, run: Run) -> Driver:
    return Driver(store, run)
