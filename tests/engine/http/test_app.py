"""HTTP endpoints beside the websocket: the widget file, the demo routes, the
config's limits (the beacon: tests/engine/http/test_beacon.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.http.app import WIDGET
from engine.runtime.config import Config, ConfigError, load_config
from tests.conftest import Engine, run_engine, site_config


def test_widget_js_is_served_with_caching_headers(engine: Engine) -> None:
    assert WIDGET.is_file(), "build the widget first: cd widgets && npm run build"
    reply = httpx.get(f"{engine.url}/widget.js")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/javascript")
    assert "max-age" in reply.headers["cache-control"]
    etag = reply.headers["etag"]
    again = httpx.get(f"{engine.url}/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_the_demo_routes_exist_only_when_asked_for(engine: Engine, redis_url: str) -> None:
    # A site that happens to be called demo-shop gets no member-signing route.
    for method, path in (("POST", "/demo/login"), ("POST", "/demo/checkout"),
                         ("GET", "/demo/index.html")):
        assert httpx.request(method, engine.url + path, json={}).status_code == 404
    config = Config(sites={"demo-shop": site_config()}, demo=True)
    with run_engine(config, redis_url) as demo:
        signed = httpx.post(f"{demo.url}/demo/login", json={"member_id": "kim"})
        assert signed.status_code == 200 and signed.json()["signature"]
        assert httpx.get(f"{demo.url}/demo/index.html").status_code == 200


def test_the_demo_switch_needs_the_demo_site(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('[server]\ndemo = true\n[[sites]]\nid = "my-shop"\n'
                    'secret = "0123456789abcdef0123"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "server.demo"


def test_limits_can_be_set_in_the_config_and_bad_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    site = '[[sites]]\nid = "my-shop"\nsecret = "0123456789abcdef0123"\n'
    path.write_text(site + "[limits]\nevents_per_second = 30\nconnect_burst = 500\n",
                    encoding="utf-8")
    limits = load_config(path).limits
    assert (limits.events_per_second, limits.connect_burst) == (30.0, 500)
    for bad, key in (("events_per_secnd = 30", "limits.events_per_secnd"),
                     ("connect_burst = -1", "limits.connect_burst")):
        path.write_text(site + f"[limits]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.key == key


def test_a_site_spreads_its_live_counters_over_whole_shards_only(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    site = '[[sites]]\nid = "my-shop"\nsecret = "0123456789abcdef0123"\n'
    path.write_text(site + "live_shards = 8\n", encoding="utf-8")
    assert load_config(path).sites["my-shop"].live_shards == 8
    for bad in ("live_shards = 0", "live_shards = 2.5", "live_shards = 65"):
        path.write_text(site + bad + "\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.key.endswith(".live_shards")
        assert "a whole number from 1 to 64" in str(info.value)


def test_a_login_url_a_browser_would_take_off_the_shop_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    site = '[[sites]]\nid = "my-shop"\nsecret = "0123456789abcdef0123"\n'
    path.write_text(site + 'login_url = "/member/login?return={return}"\n', encoding="utf-8")
    assert load_config(path).sites["my-shop"].login_url == "/member/login?return={return}"
    for bad in ("/\\\\evil.example/login", "javascript:alert(1)", "//evil.example/login"):
        path.write_text(site + f'login_url = "{bad}"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.key == "sites[0].login_url"
