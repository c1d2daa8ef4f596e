"""The console's sessions and sign-in attempts (contract, both stores): a
session is found until it expires or ends; attempts count per key within their
window."""

from __future__ import annotations

from engine.store.base import ConsoleSession, Store
from tests.engine.store.stores import HOUR, T0, Run

SESSION = ConsoleSession("shop", "csrf-1", T0 + 12 * HOUR, "fp")


def test_a_session_is_found_until_it_expires(store: Store, run: Run) -> None:
    sessions = store.sessions
    run(sessions.open("k1", SESSION, T0))
    assert run(sessions.find("k1", T0 + HOUR)) == SESSION
    assert run(sessions.find("k1", T0 + 12 * HOUR)) is None
    assert run(sessions.find("other", T0)) is None


def test_an_ended_session_is_gone(store: Store, run: Run) -> None:
    sessions = store.sessions
    run(sessions.open("k1", SESSION, T0))
    run(sessions.open("k2", SESSION, T0))
    run(sessions.end("k1"))
    assert run(sessions.find("k1", T0)) is None
    assert run(sessions.find("k2", T0)) == SESSION
    run(sessions.end("never-opened"))  # no error


def test_attempts_count_per_key(store: Store, run: Run) -> None:
    sessions = store.sessions
    assert [run(sessions.attempt("addr-a", T0 + n, 300)) for n in range(3)] == [1, 2, 3]
    assert run(sessions.attempt("addr-b", T0, 300)) == 1
