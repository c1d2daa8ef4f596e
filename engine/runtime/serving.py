"""How a process serves the engine: uvicorn's options (``ondo serve`` and the
tests use the same) and the cyclic GC settings of every serving process."""

from __future__ import annotations

import gc
from typing import Any

from engine.runtime.config import Config


def uvicorn_options(config: Config) -> dict[str, Any]:
    limits = config.limits
    return {"ws": "websockets-sansio", "ws_max_size": limits.max_frame_bytes,
            "ws_ping_interval": limits.ping_interval, "ws_ping_timeout": limits.ping_timeout,
            "ws_per_message_deflate": False, "log_level": "warning",
            "timeout_graceful_shutdown": 5,
            # Client addresses (the per-address connect limit) from X-Forwarded-For
            # of these proxies only: a load balancer on another host must be named.
            "proxy_headers": True, "forwarded_allow_ips": config.forwarded_allow_ips}


def tune_gc() -> None:
    """The cyclic GC settings of a serving process (each worker's too)."""
    gc.freeze()  # start-up objects never die: keep them out of the cyclic GC's way
    # An event allocates a few hundred short-lived objects that die with it
    # (reference counting frees them); a young generation of 700 made the
    # cyclic GC walk them anyway, ~7% of the engine's time under load. Much
    # larger, and each collection walks the state of a thousand events in
    # flight at once: 10,000 keeps a young collection near 2 ms.
    gc.set_threshold(10_000, 10, 10)
