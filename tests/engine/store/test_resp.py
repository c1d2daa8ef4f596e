"""The event path's pipelined Redis connection, against real redis-server
processes: order, errors per command, outages, stalls and credentials."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.store.resp import NoScriptError, Pipe, ReplyError
from tests.engine.store.stores import Run


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    yield server
    server.stop()


def test_concurrent_commands_share_the_socket_and_keep_their_order(
        redis_url: str, run: Run) -> None:
    async def go() -> list[object]:
        pipe = Pipe(redis_url)
        replies = await asyncio.gather(*(pipe.call("INCR", "ondo:test:n") for _ in range(2000)))
        await pipe.close()
        return replies

    assert run(go()) == list(range(1, 2001))


def test_an_error_reply_reaches_only_its_own_caller(redis_url: str, run: Run) -> None:
    async def go() -> list[object]:
        pipe = Pipe(redis_url)
        replies = await asyncio.gather(
            pipe.call("SET", "ondo:test:s", "가방"), pipe.call("INCR", "ondo:test:s"),
            pipe.call("EVALSHA", "0" * 40, 0), pipe.call("GET", "ondo:test:s"),
            return_exceptions=True)
        await pipe.close()
        return replies

    ok, not_a_number, no_script, value = run(go())
    assert ok == b"OK" and value == "가방".encode()
    assert isinstance(not_a_number, ReplyError) and not isinstance(not_a_number, NoScriptError)
    assert "not an integer" in str(not_a_number)
    assert isinstance(no_script, NoScriptError)


def test_a_cancelled_caller_does_not_shift_the_replies_of_the_others(
        redis_url: str, run: Run) -> None:
    async def go() -> tuple[object, object]:
        pipe = Pipe(redis_url)
        await pipe.call("SET", "ondo:test:a", "a")
        await pipe.call("SET", "ondo:test:b", "b")
        first = asyncio.ensure_future(pipe.call("GET", "ondo:test:a"))
        second = asyncio.ensure_future(pipe.call("GET", "ondo:test:b"))
        await asyncio.sleep(0)
        first.cancel()
        third = await pipe.call("GET", "ondo:test:a")
        result = await second, third
        await pipe.close()
        return result

    assert run(go()) == (b"b", b"a")


def test_nothing_listening_fails_fast_and_is_retried_later(run: Run) -> None:
    async def go() -> float:
        pipe = Pipe(f"redis://127.0.0.1:{free_port()}/0", retry_after=0.2)
        with pytest.raises(ConnectionError):
            await pipe.call("PING")
        started = time.monotonic()
        with pytest.raises(ConnectionError, match="retrying"):
            await pipe.call("PING")  # inside retry_after: not even tried
        quick = time.monotonic() - started
        await asyncio.sleep(0.25)
        with pytest.raises(ConnectionError, match=r"cannot connect|refused|Connect"):
            await pipe.call("PING")  # tried again
        return quick

    assert run(go()) < 0.05


def test_redis_restarting_fails_the_waiting_and_the_next_command_reconnects(
        own_redis: EmbeddedRedis, run: Run) -> None:
    async def go() -> object:
        pipe = Pipe(own_redis.url, retry_after=0.0)
        assert await pipe.call("PING") == b"PONG"
        own_redis.stop()
        with pytest.raises(ConnectionError):
            await pipe.call("PING")
        own_redis.start()
        reply = await pipe.call("PING")
        await pipe.close()
        return reply

    assert run(go()) == b"PONG"


def test_a_stalled_redis_times_out_every_waiting_command(
        own_redis: EmbeddedRedis, run: Run) -> None:
    assert own_redis.process is not None
    pid = own_redis.process.pid

    async def go() -> tuple[float, object]:
        pipe = Pipe(own_redis.url, timeout=0.3, retry_after=0.0)
        assert await pipe.call("PING") == b"PONG"
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            results = await asyncio.gather(*(pipe.call("PING") for _ in range(3)),
                                           return_exceptions=True)
            waited = time.monotonic() - started
            assert all(isinstance(r, ConnectionError) for r in results), results
        finally:
            os.kill(pid, signal.SIGCONT)
        reply = await pipe.call("PING")
        await pipe.close()
        return waited, reply

    waited, reply = run(go())
    assert 0.25 < waited < 1.5
    assert reply == b"PONG"


def test_credentials_and_database_from_the_url(tmp_path: Path, run: Run) -> None:
    port = free_port()
    binary = shutil.which("redis-server")
    assert binary is not None
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path),
                               "--requirepass", "s3cret"], stdout=subprocess.DEVNULL)
    try:
        async def go() -> tuple[object, object]:
            deadline = time.monotonic() + 5
            while True:
                try:
                    pipe = Pipe(f"redis://:s3cret@127.0.0.1:{port}/3", retry_after=0.0)
                    await pipe.call("SET", "ondo:test:db", "three")
                    break
                except ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            wrong = Pipe(f"redis://:wrong@127.0.0.1:{port}/0")
            with pytest.raises(ConnectionError, match=r"WRONGPASS|invalid"):
                await wrong.call("PING")
            other = Pipe(f"redis://:s3cret@127.0.0.1:{port}/0")
            result = await pipe.call("GET", "ondo:test:db"), await other.call(
                "GET", "ondo:test:db")
            await pipe.close()
            await other.close()
            return result

        assert run(go()) == (b"three", None)
    finally:
        server.terminate()
        server.wait(timeout=5)


def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        Pipe("http://127.0.0.1:6379")
