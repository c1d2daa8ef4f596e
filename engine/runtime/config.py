"""The engine's configuration: one typed object, read once at start-up from a
TOML file and command-line flags, then passed down. Errors name the key.

A site's admin token is never stored in clear: the file holds its SHA-256
(``admin_token_sha256``); ``ondo serve`` compares in constant time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.wire.protocol import LIMITS, Limits
from rules.links import UnsafeLink, read_link


def token_ok(token: str, sha256: str) -> bool:
    """Whether ``token`` is the one whose SHA-256 the config holds (none: never)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return bool(sha256) and hmac.compare_digest(digest, sha256)


class ConfigError(Exception):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config: {key}: {message}")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: str
    origins: tuple[str, ...]  # exact scheme://host[:port] values allowed to open sockets
    secret: str  # HMAC key for member identity and server-to-server events
    admin_token_sha256: str = ""
    timezone: str = "Asia/Seoul"
    session_timeout: float = 30 * 60.0  # seconds of silence that end a visit
    cart_period: float = 30 * 86_400.0  # a cart untouched this long counts as empty
    login_url: str = ""  # "{return}" is replaced by the URL-encoded link
    rules: str | None = None  # rule file loaded at start
    # What rules earn (docs/stats.md): a purchase is credited to the rules its
    # buyer was exposed to this long before it; a share of visitors (or members)
    # never receives any action, the site's control group; a tracked event that
    # counts as a conversion too; how long daily statistics are kept.
    attribution: float = 24 * 3_600.0
    holdback: float = 0.0
    goal_event: str | None = None
    stats_retention: float = 400 * 86_400.0
    # Slots the site's live counters are spread over: on a Redis Cluster, one
    # slot carries a site's every page view while rules read live counters
    # (docs/capacity.md says when that binds).
    live_shards: int = 1
    # What the engine records for forecasts (docs/forecast.md): kept this many
    # days (0: nothing recorded) and at most this many entries, of this share
    # of visitors (a stable draw per profile: a sampled journey is kept whole).
    forecast_days: float = 7.0
    forecast_entries: int = 5_000_000
    forecast_sample: float = 1.0
    forecast_bytes: int = 256 * 1024 * 1024  # the recording's bytes in Redis; oldest go first

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def admin_token_ok(self, token: str) -> bool:
        return token_ok(token, self.admin_token_sha256)


@dataclass(frozen=True, slots=True)
class Config:
    sites: dict[str, SiteConfig]
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    redis_url: str | None = None  # None: start an embedded redis-server
    data_dir: Path = Path(".ondo-data")
    profile_ttl: float = 400 * 86_400.0  # anonymous profiles expire after this
    limits: Limits = field(default_factory=lambda: LIMITS)
    pure_python: bool = False  # ONDO_PUREPYTHON: use the reference matcher
    demo: bool = False  # serve the demo storefront (/demo/) for the site DEMO_SITE
    # Proxies whose X-Forwarded-For gives the client's address (uvicorn's option).
    forwarded_allow_ips: str = "127.0.0.1"
    # The embedded redis-server's maxmemory in bytes (0: a quarter of the
    # machine's memory); docs/storage.md says what each key family does when full.
    redis_maxmemory: int = 0
    # /metrics: with this SHA-256 of a token, callers need it as a bearer;
    # without, only loopback clients are answered (docs/scale.md).
    metrics_token_sha256: str = ""

    def metrics_token_ok(self, token: str) -> bool:
        return token_ok(token, self.metrics_token_sha256)


DEMO_SITE = "demo-shop"
MAX_FORECAST_DAYS = 90  # the longest a site may keep its recording (forecast_days)
_SITE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ORIGIN = re.compile(r"https?://[^/\s]+")


def _site(key: str, raw: dict[str, Any], base: Path) -> SiteConfig:
    site_id = raw.get("id")
    if not isinstance(site_id, str) or not _SITE.fullmatch(site_id):
        raise ConfigError(f"{key}.id", "a site id of lowercase letters, digits, - and _")
    origins = raw.get("origins", [])
    if not isinstance(origins, list) or not all(
            isinstance(o, str) and _ORIGIN.fullmatch(o) for o in origins):
        raise ConfigError(f"{key}.origins", 'a list like ["https://shop.example.com"]')
    secret = raw.get("secret")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ConfigError(f"{key}.secret", "a secret of at least 16 characters")
    timezone = raw.get("timezone", "Asia/Seoul")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(f"{key}.timezone", f"unknown time zone {timezone!r}") from None
    token = _token_hash(raw, "admin_token_sha256", key)
    rules = raw.get("rules")
    if rules is not None:
        path = (base / rules).resolve()
        if not path.is_file():
            raise ConfigError(f"{key}.rules", f"no such rule file: {path}")
        rules = str(path)
    known = {"id", "origins", "secret", "admin_token_sha256", "timezone",
             "session_timeout_minutes", "cart_period_days", "login_url", "rules",
             "attribution_hours", "holdback", "goal_event", "stats_retention_days",
             "live_shards", "forecast_days", "forecast_entries", "forecast_sample",
             "forecast_megabytes"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}", "unknown key")
    return SiteConfig(
        id=site_id, origins=tuple(origins), secret=secret, admin_token_sha256=token,
        timezone=timezone,
        session_timeout=60.0 * float(raw.get("session_timeout_minutes", 30)),
        cart_period=86_400.0 * float(raw.get("cart_period_days", 30)),
        login_url=_login_url(raw, key), rules=rules,
        attribution=3_600.0 * _number(raw, "attribution_hours", key, 24, 0.5, 24 * 90),
        holdback=_number(raw, "holdback", key, 0, 0, 0.5),
        goal_event=_goal(raw, key),
        stats_retention=86_400.0 * _number(raw, "stats_retention_days", key, 400, 1, 3_650),
        live_shards=_whole(raw, "live_shards", key, 1, 1, 64),
        forecast_days=_number(raw, "forecast_days", key, 7, 0, MAX_FORECAST_DAYS),
        forecast_entries=_whole(raw, "forecast_entries", key, 5_000_000, 1_000, 100_000_000),
        forecast_sample=_number(raw, "forecast_sample", key, 1, 0.001, 1),
        forecast_bytes=1024 * 1024 * _whole(raw, "forecast_megabytes", key, 256, 1, 65_536))


def _number(raw: dict[str, Any], name: str, key: str, default: float, low: float,
            high: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{key}.{name}", f"a number from {low:g} to {high:g}")
    return float(value)


def _whole(raw: dict[str, Any], name: str, key: str, default: int, low: int,
           high: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key}.{name}", f"a whole number from {low} to {high}")
    return value


def _token_hash(raw: dict[str, Any], name: str, key: str) -> str:
    token = raw.get(name, "")
    if token and not (isinstance(token, str) and re.fullmatch(r"[0-9a-f]{64}", token)):
        raise ConfigError(f"{key}.{name}", "the hex SHA-256 of the token")
    return str(token)


def _login_url(raw: dict[str, Any], key: str) -> str:
    url = raw.get("login_url", "")
    if not isinstance(url, str):
        raise ConfigError(f"{key}.login_url", "a path or http(s) address of the shop's sign-in")
    if url:
        try:
            read_link(url)
        except UnsafeLink as exc:
            raise ConfigError(f"{key}.login_url", f"the link {url!r} {exc}") from None
    return url


def _goal(raw: dict[str, Any], key: str) -> str | None:
    goal = raw.get("goal_event")
    if goal is not None and (not isinstance(goal, str) or not 0 < len(goal) <= 64):
        raise ConfigError(f"{key}.goal_event", "the name of a tracked event, e.g. \"signup\"")
    return goal


def _limits(raw: Any) -> Limits:
    """``[limits]``: any field of engine.protocol.Limits, e.g. events_per_second = 30."""
    if not isinstance(raw, dict):
        raise ConfigError("limits", "a table of limits, e.g. [limits] events_per_second = 30")
    fields = {f.name: f.type for f in dataclasses.fields(Limits)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in fields:
            raise ConfigError(f"limits.{name}", "unknown limit; see engine/wire/protocol.py Limits")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"limits.{name}", "a positive number")
        values[name] = float(value) if fields[name] == "float" else int(value)
    return dataclasses.replace(LIMITS, **values)


def load_config(path: Path, **overrides: Any) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    sites = {}
    for index, site_raw in enumerate(raw.get("sites", [])):
        site = _site(f"sites[{index}]", site_raw, path.parent)
        sites[site.id] = site
    if not sites:
        raise ConfigError("sites", "at least one [[sites]] entry")
    server = raw.get("server", {})
    values: dict[str, Any] = {
        "host": server.get("host", "127.0.0.1"), "port": int(server.get("port", 8000)),
        "workers": int(server.get("workers", 1)), "redis_url": server.get("redis_url"),
        "data_dir": Path(server.get("data_dir", ".ondo-data")),
        "profile_ttl": 86_400.0 * float(server.get("profile_ttl_days", 400)),
        "demo": server.get("demo", False),
        "forwarded_allow_ips": str(server.get("forwarded_allow_ips", "127.0.0.1")),
        "redis_maxmemory": 1024 * 1024 * _whole(server, "redis_maxmemory_mb", "server", 0, 0,
                                                16 * 1024 * 1024),
        "metrics_token_sha256": _token_hash(server, "metrics_token_sha256", "server"),
        "limits": _limits(raw.get("limits", {})),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not isinstance(values["demo"], bool):
        raise ConfigError("server.demo", "true or false")
    if values["demo"] and DEMO_SITE not in sites:
        raise ConfigError("server.demo", f"the demo storefront needs a site with id {DEMO_SITE!r}")
    return Config(sites=sites, **values)
