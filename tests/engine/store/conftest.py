"""Every store test is a contract: it runs on the Lua store against a real
Redis and on the in-memory store (the ``store`` fixture of tests/engine/conftest.py,
tests/engine/store/stores.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.store.base import Store
from tests.engine.store.stores import Driver, Run, another_node


@pytest.fixture
def other_node(store: Store, run: Run) -> Iterator[Store]:
    """A second engine node on the same storage as ``store``."""
    node = another_node(store)
    yield node
    run(node.close())


@pytest.fixture
def driver(store: Store, run: Run) -> Driver:
    return Driver(store, run)
