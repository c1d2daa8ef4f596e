"""The reference servers every engine figure is compared with, on the same
uvicorn stack and the same frames: ``python -m bench.reference --kind echo``
(A: a bare websocket echo, the physical limit) or ``--kind redis`` (B: the same
echo doing one redis.asyncio EVALSHA of a trivial Lua script per message, the
straightforward design)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TRIVIAL = "return redis.call('INCR', KEYS[1])"


def echo_app() -> Starlette:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="ondo.v1")
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute("/v1/ws", echo)])


def redis_app(url: str) -> Starlette:
    import redis.asyncio as redis

    # A pool as large as the connections it serves: the straightforward design.
    client: Any
    if url.startswith("redis+cluster://"):
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        seeds = [seed.rsplit(":", 1) for seed in url.partition("://")[2].split(",")]
        client = RedisCluster(startup_nodes=[ClusterNode(h, int(p)) for h, p in seeds],
                              max_connections=20_000)
    else:
        client = redis.Redis.from_url(url, max_connections=20_000)
    state: dict[str, str] = {}

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="ondo.v1")
        if "sha" not in state:
            state["sha"] = await client.script_load(TRIVIAL)
        try:
            while True:
                message = await websocket.receive_text()
                await client.evalsha(state["sha"], 1, "bench:{echo}")
                await websocket.send_text(message)
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute("/v1/ws", echo)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reference")
    parser.add_argument("--kind", choices=["echo", "redis"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    app = echo_app() if args.kind == "echo" else redis_app(args.redis)
    uvicorn.run(app, host="127.0.0.1", port=args.port, ws="websockets-sansio",
                ws_per_message_deflate=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
