"""``ondo serve``: the engine on uvicorn, with an embedded Redis by default.

However the engine ends, the embedded Redis ends with it: SIGTERM and SIGINT
finish uvicorn's graceful shutdown and then stop the server here; a SIGKILLed
engine's server gets SIGTERM from the kernel (engine/runtime/embedded.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
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
    parser.add_argument("--demo", action="store_true", default=None,
                        help="serve the demo storefront and its sign-in and checkout routes "
                             "(/demo/); never on a real shop's engine")
    parser.set_defaults(func=run)


class Stopped(Exception):
    """SIGTERM arrived: leave uvicorn's run so that the embedded Redis is stopped."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def run(args: argparse.Namespace) -> int:
    from engine.matcher import pure_requested
    from engine.runtime.config import ConfigError, load_config
    from engine.runtime.embedded import POLICY, EmbeddedRedis, EmbeddedRedisError
    from rules.errors import RuleFileError

    overrides = {"host": args.host, "port": args.port, "workers": args.workers,
                 "redis_url": args.redis_url or os.environ.get("REDIS_URL"),
                 "data_dir": args.data_dir, "demo": args.demo}
    try:
        config = load_config(args.config, pure_python=pure_requested(), **overrides)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # uvicorn re-raises the signal that stopped it once it has shut down; with
    # the default SIGTERM action the process would die before the finally below.
    signal.signal(signal.SIGTERM, _stop)
    embedded = None
    redis_url = config.redis_url
    try:
        if redis_url is None:
            try:
                embedded = EmbeddedRedis(config.data_dir, maxmemory=config.redis_maxmemory).start()
            except EmbeddedRedisError as exc:
                print(f"ondo serve: {exc}", file=sys.stderr)
                return 2
            embedded.supervise()
            redis_url = embedded.url
            print(f"embedded redis-server on {redis_url} (AOF in {config.data_dir}/, maxmemory "
                  f"{embedded.maxmemory / 2**20:,.0f} MiB, {POLICY})")
        elif (refused := _wrong_kind(redis_url)) is not None:
            print(f"ondo serve: {refused}", file=sys.stderr)
            return 2
        return _serve(args, config, redis_url)
    except (Stopped, KeyboardInterrupt):
        return 0
    except RuleFileError as exc:
        print(exc.format(), file=sys.stderr)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()


def _wrong_kind(redis_url: str) -> str | None:
    """Why ``redis_url`` names the wrong kind of Redis (or cannot be read)."""
    import asyncio

    from engine.store.cluster import ClusterURLError
    from engine.store.redis import StoreModeError, check_mode

    try:
        asyncio.run(check_mode(redis_url))
    except (StoreModeError, ClusterURLError) as exc:
        return str(exc)
    except ValueError as exc:  # not a Redis URL at all
        return str(exc)
    return None


def _serve(args: argparse.Namespace, config: Any, redis_url: str) -> int:
    import uvicorn

    from engine.http.app import close_sockets, create_app
    from engine.runtime.serving import tune_gc, uvicorn_options

    base = f"http://{config.host}:{config.port}"
    print(f"Ondo engine on {base} (websocket {base.replace('http', 'ws')}/v1/ws), "
          f"sites: {', '.join(config.sites)}; health: {base}/healthz; "
          f"{config.workers} worker(s)")
    print(f"Console: {base}/admin/")
    if config.demo:
        print(f"Demo storefront: {base}/demo/  (console sign-in: site demo-shop, "
              "token demo-admin-token)")
    options = uvicorn_options(config)
    if config.workers > 1:
        # Workers share nothing but Redis; each builds its own app from these.
        os.environ["ONDO_CONFIG"] = str(args.config.resolve())
        os.environ["ONDO_OVERRIDES"] = json.dumps({"redis_url": redis_url, "demo": config.demo})
        # Where the workers leave their figures for each other's /metrics.
        shared = (config.data_dir / "metrics").resolve()
        shutil.rmtree(shared, ignore_errors=True)
        os.environ["ONDO_METRICS_DIR"] = str(shared)
        uvicorn.run("engine.http.app:app_from_environment", factory=True, workers=config.workers,
                    host=config.host, port=config.port, **options)
        return 0

    class EngineServer(uvicorn.Server):
        """On SIGTERM, close every socket with 1001 "going away" and let their
        in-flight events finish before uvicorn tears connections down."""

        async def shutdown(self, sockets: Any = None) -> None:
            await close_sockets(app)
            await super().shutdown(sockets)

    app = create_app(config, redis_url)
    tune_gc()
    EngineServer(uvicorn.Config(app, host=config.host, port=config.port, **options)).run()
    return 0
