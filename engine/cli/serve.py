"""``ondo serve``: the engine on uvicorn, with an embedded Redis by default."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Any

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "sites" / "demo.toml"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the engine")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG,
                        help="site configuration (TOML); default: the demo site")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--redis", dest="redis_url", metavar="URL",
                        help="Redis URL; default: start an embedded redis-server")
    parser.add_argument("--data-dir", type=Path, help="where the embedded Redis keeps its AOF")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.app import close_sockets

    class EngineServer(uvicorn.Server):
        """On SIGTERM, close every socket with 1001 "going away" and let their
        in-flight events finish before uvicorn tears connections down."""

        async def shutdown(self, sockets: Any = None) -> None:
            await close_sockets(self.config.app)
            await super().shutdown(sockets)

    from engine.app import create_app
    from engine.config import ConfigError, load_config
    from engine.embedded import EmbeddedRedis, EmbeddedRedisError
    from engine.matching import pure_requested
    from rules.errors import RuleFileError

    try:
        config = load_config(args.config, host=args.host, port=args.port, workers=args.workers,
                             redis_url=args.redis_url or os.environ.get("REDIS_URL"),
                             data_dir=args.data_dir, pure_python=pure_requested())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    embedded = None
    redis_url = config.redis_url
    if redis_url is None:
        try:
            embedded = EmbeddedRedis(config.data_dir).start()
        except EmbeddedRedisError as exc:
            print(f"ondo serve: {exc}", file=sys.stderr)
            return 2
        redis_url = embedded.url
        print(f"embedded redis-server on {redis_url} (AOF in {config.data_dir}/)")
    try:
        try:
            app = create_app(config, redis_url)
        except RuleFileError as exc:
            print(exc.format(), file=sys.stderr)
            return 1
        gc.freeze()  # start-up objects never die: keep them out of the cyclic GC's way
        # An event allocates a few hundred short-lived objects that die with it
        # (reference counting frees them); a young generation of 700 made the
        # cyclic GC walk them anyway, ~7% of the engine's time under load. Much
        # larger, and each collection walks the state of a thousand events in
        # flight at once: 10,000 keeps a young collection near 2 ms.
        gc.set_threshold(10_000, 10, 10)
        base = f"http://{config.host}:{config.port}"
        print(f"Ondo engine on {base} (websocket {base.replace('http', 'ws')}/v1/ws), "
              f"sites: {', '.join(config.sites)}; health: {base}/healthz; "
              f"{config.workers} worker(s)")
        if "demo-shop" in config.sites:
            print(f"Demo storefront: {base}/demo/  (admin token of the demo: demo-admin-token)")
        options: dict[str, Any] = {
            "host": config.host, "port": config.port, "ws": "websockets-sansio",
            "ws_max_size": config.limits.max_frame_bytes,
            "ws_ping_interval": config.limits.ping_interval,
            "ws_ping_timeout": config.limits.ping_timeout,
            "ws_per_message_deflate": False, "log_level": "warning",
            "timeout_graceful_shutdown": 5}
        if config.workers > 1:
            # Workers share nothing but Redis; each builds its own app.
            os.environ["ONDO_CONFIG"] = str(args.config.resolve())
            os.environ["ONDO_REDIS_URL"] = redis_url
            uvicorn.run("engine.app:app_from_environment", factory=True,
                        workers=config.workers, **options)
        else:
            server = EngineServer(uvicorn.Config(app, **options))
            server.run()
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
