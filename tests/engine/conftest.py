from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.matcher import MatcherLike, matcher_class, pure_requested
from engine.store.base import Store
from tests.engine.store.stores import STORES, Run, event_loop, open_store


@pytest.fixture(params=["cython", "python"])
def Matcher(request: pytest.FixtureRequest) -> type[MatcherLike]:
    """Every matcher test runs against both implementations."""
    if request.param == "cython" and pure_requested():
        pytest.skip("ONDO_PUREPYTHON=1 forces the pure-Python matcher")
    return matcher_class(pure=request.param == "python")


@pytest.fixture
def run() -> Iterator[Run]:
    """Runs coroutines from a test's plain code, on one event loop per test."""
    with event_loop() as run:
        yield run


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, run: Run) -> Iterator[Store]:
    """The Lua store on the test's real Redis, then its in-memory twin."""
    store = open_store(request.param, request)
    yield store
    run(store.close())
