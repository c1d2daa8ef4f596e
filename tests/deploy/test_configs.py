"""The example load balancer configs of deploy/ (docs/scale.md), read as text:
what a shop would notice if a line were missing. When nginx or haproxy is
installed, each file also passes that program's own check."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import uvicorn

from engine.runtime.config import Config
from engine.runtime.serving import uvicorn_options
from engine.wire.protocol import LIMITS, WS_PATH

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = DEPLOY / "nginx.conf"
HAPROXY = DEPLOY / "haproxy.cfg"

# A quiet websocket: the engine pings it every ping_interval and drops it when
# no pong came ping_timeout later. A balancer must not drop it before.
ENGINE_IDLE = LIMITS.ping_interval + LIMITS.ping_timeout


def directives(path: Path) -> list[str]:
    """The file's lines without comments and blank lines, spaces squeezed."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = " ".join(line.split("#", 1)[0].split())
        if line:
            out.append(line)
    return out


def block(lines: list[str], opening: str) -> list[str]:
    """The lines inside the nginx block that opens with ``opening {``."""
    start = lines.index(f"{opening} {{")
    depth, inside = 1, []
    for line in lines[start + 1:]:
        depth += line.count("{") - line.count("}")
        if depth == 0:
            return inside
        inside.append(line)
    raise AssertionError(f"{opening} is never closed")


def value(lines: list[str], name: str) -> str:
    """The argument of the one directive ``name`` among ``lines``."""
    found = [line[len(name) + 1:].rstrip(";") for line in lines if line.startswith(name + " ")]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def seconds(text: str, bare: str) -> float:
    """A duration as nginx ("90s", "4", bare = seconds) or HAProxy ("90s",
    "90000", bare = milliseconds) write it."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", text)
    assert match, f"not a duration: {text!r}"
    number, unit = match.groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit or bare]


def size(text: str) -> int:
    """A size as nginx writes it: "64m", "512k", "1048576"."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    assert match, f"not a size: {text!r}"
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def engine_keep_alive() -> float:
    """How long a node keeps an idle HTTP connection open (uvicorn's option)."""
    default = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    return float(uvicorn_options(Config(sites={})).get("timeout_keep_alive", default))


# -- nginx

def test_nginx_upgrades_websockets_over_http_1_1() -> None:
    lines = directives(NGINX)
    assert "default upgrade;" in block(lines, "map $http_upgrade $connection_upgrade")
    assert "proxy_http_version 1.1;" in lines
    assert "proxy_set_header Upgrade $http_upgrade;" in lines
    assert "proxy_set_header Connection $connection_upgrade;" in lines


def test_nginx_proxies_the_websocket_path_to_the_nodes() -> None:
    ws = block(directives(NGINX), f"location = {WS_PATH}")
    assert "proxy_pass http://ondo_engines;" in ws


def test_nginx_keeps_a_quiet_websocket_open_longer_than_the_engine_does() -> None:
    ws = block(directives(NGINX), f"location = {WS_PATH}")
    assert seconds(value(ws, "proxy_read_timeout"), bare="s") > ENGINE_IDLE
    assert seconds(value(ws, "proxy_send_timeout"), bare="s") > ENGINE_IDLE


def test_nginx_balances_several_nodes_with_keep_alive_to_them() -> None:
    upstream = block(directives(NGINX), "upstream ondo_engines")
    servers = [line for line in upstream if line.startswith("server ")]
    assert len(servers) >= 2
    assert all("max_fails=" in line for line in servers)  # the passive health check
    # nginx wants the balancing method before keepalive.
    assert upstream.index("least_conn;") < upstream.index(next(
        line for line in upstream if line.startswith("keepalive ")))
    # An upstream connection must be dropped by nginx before the node drops it,
    # or a request sent on it as it closes fails with 502.
    assert seconds(value(upstream, "keepalive_timeout"), bare="s") < engine_keep_alive()


def test_nginx_passes_the_client_address_the_scheme_and_the_host() -> None:
    lines = directives(NGINX)
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in lines
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in lines
    assert "proxy_set_header Host $host;" in lines


def test_nginx_sets_the_proxy_headers_for_every_location() -> None:
    # A location with a proxy_set_header of its own inherits none of the server's.
    lines = directives(NGINX)
    for opening in [line[:-2] for line in lines if line.startswith("location ")]:
        assert not any(line.startswith("proxy_set_header") for line in block(lines, opening))


def test_nginx_accepts_a_whole_product_feed() -> None:
    assert size(value(directives(NGINX), "client_max_body_size")) >= LIMITS.feed_bytes


# -- HAProxy

def test_haproxy_balances_by_fewest_connections_and_checks_healthz() -> None:
    lines = directives(HAPROXY)
    assert "balance leastconn" in lines
    assert "option httpchk GET /healthz" in lines
    assert "http-check expect status 200" in lines
    assert any(line.startswith("default-server check") for line in lines)
    assert len([line for line in lines if line.startswith("server ")]) >= 2


def test_haproxy_keeps_a_quiet_websocket_open_longer_than_the_engine_does() -> None:
    assert seconds(value(directives(HAPROXY), "timeout tunnel"), bare="ms") > ENGINE_IDLE


def test_haproxy_passes_the_client_address_and_the_scheme() -> None:
    lines = directives(HAPROXY)
    assert "option forwardfor" in lines
    assert "http-request set-header X-Forwarded-Proto https if { ssl_fc }" in lines


def test_haproxy_can_drain_a_node_through_its_runtime_api() -> None:
    assert any(line.startswith("stats socket ") and line.endswith("level admin")
               for line in directives(HAPROXY))


def test_metrics_are_not_served_through_the_balancer() -> None:
    assert "return 404;" in block(directives(NGINX), "location = /metrics")
    assert "http-request deny deny_status 404 if { path /metrics }" in directives(HAPROXY)


# -- the programs' own checks, where installed

def certificate(where: Path) -> None:
    """A self-signed certificate and key in ``where``, named as the configs name
    them: ondo.example.com.crt and .key (nginx), .pem, both in one (HAProxy)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    crt, key = where / "ondo.example.com.crt", where / "ondo.example.com.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=ondo.example.com", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    (where / "ondo.example.com.pem").write_bytes(crt.read_bytes() + key.read_bytes())


def test_nginx_accepts_its_config(tmp_path: Path) -> None:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    certificate(tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX.read_text(encoding="utf-8").replace(
        "/etc/nginx/tls/", f"{tmp_path}/"), encoding="utf-8")
    done = subprocess.run(["nginx", "-t", "-p", f"{tmp_path}/", "-e", "stderr", "-c", str(conf)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_haproxy_accepts_its_config(tmp_path: Path) -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    certificate(tmp_path)
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(HAPROXY.read_text(encoding="utf-8").replace(
        "/etc/haproxy/certs/", f"{tmp_path}/"), encoding="utf-8")
    done = subprocess.run(["haproxy", "-c", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
