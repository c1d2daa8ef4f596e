"""Rule versions (contract): saved once, activated only when stored, listed
newest first. And across nodes on Redis: a node that missed an announcement
(its subscription was down when the version went live) catches up by itself."""

from __future__ import annotations

import time

import redis

from engine.store.base import Store, Version, source_version
from engine.store.redis import RedisStore
from tests.conftest import SEED_RULES, Engine, on_store
from tests.engine.client import Visitor
from tests.engine.store.stores import T0, Run

NEW_RULES = SEED_RULES.read_text(encoding="utf-8").replace("회원가입 혜택", "놓친 공지")


def activate_without_announcing(redis_url: str, source: str) -> str:
    """What another node's upload leaves in Redis, minus the announcement."""
    version = source_version(source)

    async def upload(store: RedisStore) -> None:
        await store.versions.save("demo-shop", version, source, "missed", 5, time.time())
        await store.client.set("ondo:{rules:demo-shop}:active", version)

    on_store(redis_url, upload)
    return version


def test_a_missed_announcement_is_caught_up_after_resubscribing(engine: Engine,
                                                                redis_url: str) -> None:
    activate_without_announcing(redis_url, NEW_RULES)
    with redis.Redis.from_url(redis_url) as client:
        client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    deadline = time.monotonic() + 5
    n = 0
    while True:
        v = Visitor(engine, f"catch-up-{n:04}")
        for page in range(5):
            v.page(f"https://shop.example.com/p{page}")
        v.close()
        if v.actions and v.actions[0]["content"]["title"] == "놓친 공지":
            break
        assert time.monotonic() < deadline, "the node still serves the old version"
        n += 1
        time.sleep(0.2)


# -- the contract, on both stores ------------------------------------------------

def test_a_version_is_saved_once_and_keeps_its_first_note(store: Store, run: Run) -> None:
    versions = store.versions
    assert run(versions.save("shop", "v1", "rules: []", "first", 3, T0)) is True
    assert run(versions.save("shop", "v1", "rules: []", "again", 3, T0 + 1)) is False
    assert run(versions.source("shop", "v1")) == "rules: []"
    assert run(versions.list("shop")) == [Version("v1", "first", T0, 3, active=False)]


def test_only_a_stored_version_goes_live_and_each_site_has_its_own(store: Store,
                                                                   run: Run) -> None:
    versions = store.versions
    assert run(versions.activate("shop", "v1")) is False
    assert run(versions.active("shop")) is None
    run(versions.save("shop", "v1", "rules: []", "", 0, T0))
    assert run(versions.activate("shop", "v1")) is True
    assert run(versions.active("shop")) == "v1"
    assert run(versions.active("other")) is None
    assert run(versions.source("other", "v1")) is None
    assert run(versions.activate("other", "v1")) is False


def test_the_list_is_the_newest_hundred_with_the_active_one_marked(store: Store,
                                                                   run: Run) -> None:
    versions = store.versions
    for n in range(105):
        run(versions.save("shop", f"v{n:03}", f"# {n}", f"note {n}", n, T0 + n))
    run(versions.activate("shop", "v100"))
    listed = run(versions.list("shop"))
    assert [v.version for v in listed] == [f"v{n:03}" for n in range(104, 4, -1)]
    assert [v.version for v in listed if v.active] == ["v100"]
    assert listed[0] == Version("v104", "note 104", T0 + 104, 104, active=False)
