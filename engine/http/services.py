"""The objects every route shares, built once per app by ``create_app`` and
typed: routes read them with ``services(request)``, never from an untyped
``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from engine.delivery.counters import Counters
from engine.flow.pipeline import Pipeline
from engine.forecast.recorder import Recorder
from engine.forecast.service import Forecasts
from engine.http.connections import Registry
from engine.matcher import MatcherLike
from engine.runtime.clock import Clock
from engine.runtime.config import Config
from engine.runtime.jobs import Jobs
from engine.runtime.metrics import Metrics
from engine.runtime.shared_metrics import SharedMetrics
from engine.runtime.site import LiveSite
from engine.runtime.supervisor import Supervisor
from engine.store.base import Store
from engine.wire.rates import ConnectLimiter, VisitorLimiter


@dataclass
class Services:
    config: Config
    sites: dict[str, LiveSite]
    store: Store
    clock: Clock
    metrics: Metrics
    counters: Counters
    pipeline: Pipeline
    matcher_class: type[MatcherLike]
    connect_limiter: ConnectLimiter
    visitor_limiter: VisitorLimiter  # the events of one visitor's beacons
    recorder: Recorder
    forecasts: Forecasts
    jobs: Jobs  # heavy admin work (rule files, feeds) in worker processes
    registry: Registry = field(default_factory=Registry)
    sockets: set[WebSocket] = field(default_factory=set)  # open, for a clean shutdown
    shared_metrics: SharedMetrics | None = None  # several workers: /metrics sums them all
    supervisor: Supervisor | None = None  # the long-lived tasks, while the app runs


def services(connection: HTTPConnection) -> Services:
    found = connection.app.state.services
    if not isinstance(found, Services):
        raise TypeError("the app was not built by engine.http.app.create_app")
    return found
