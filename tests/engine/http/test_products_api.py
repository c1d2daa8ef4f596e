"""The product feed through a real engine: uploaded with the admin token or
`ondo products push`, replaced whole, refused whole with every bad line named."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.cli import main
from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import Engine, run_engine, site_config

TOKEN = "feed-admin-token"
FEED = "\n".join(json.dumps(row, ensure_ascii=False) for row in (
    {"id": "P1", "name": "가죽 토트백", "price": 129000, "url": "/product/P1"},
    {"id": "P2", "name": "반지갑", "price": 39000, "url": "/product/P2", "in_stock": False},
))


@pytest.fixture
def shop(redis_url: str) -> Iterator[Engine]:
    config = Config(sites={"demo-shop": site_config(
        admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())})
    with run_engine(config, redis_url) as engine:
        yield engine


def put(shop: Engine, body: str, kind: str = "application/x-ndjson",
        token: str = TOKEN) -> httpx.Response:
    return httpx.put(f"{shop.url}/v1/sites/demo-shop/products", content=body.encode(),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
                     timeout=30)


def current(shop: Engine) -> httpx.Response:
    return httpx.get(f"{shop.url}/v1/sites/demo-shop/products", timeout=10,
                     headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_feed_goes_live_whole(shop: Engine) -> None:
    assert current(shop).status_code == 404
    reply = put(shop, FEED)
    assert reply.status_code == 200, reply.text
    assert reply.json()["products"] == 2
    assert current(shop).json()["version"] == reply.json()["version"]


def test_a_feed_with_a_bad_line_changes_nothing(shop: Engine) -> None:
    good = put(shop, FEED).json()
    bad = put(shop, "id,name,price,url\nP9,새 상품,12000,/product/P9\nP10,,1000,/p\n",
              "text/csv")
    assert bad.status_code == 422
    assert (bad.json()["line"], bad.json()["field"]) == (3, "name")
    assert bad.json()["problems"] == [{"line": 3, "field": "name",
                                       "message": "name is required"}]
    assert current(shop).json()["version"] == good["version"]


def test_the_feed_needs_the_admin_token(shop: Engine) -> None:
    assert put(shop, FEED, token="wrong").status_code == 401


def test_ondo_products_push(shop: Engine, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "products.csv"
    feed.write_text("id,name,price,url\nP1,가죽 토트백,129000,/product/P1\n", encoding="utf-8")
    args = ["products", "push", str(feed), "--site", "demo-shop", "--url", shop.url,
            "--token", TOKEN]
    assert main(args) == 0
    assert "1 products" in capsys.readouterr().out
    feed.write_text("id,name,price,url\nP1,가죽 토트백,free,/product/P1\n", encoding="utf-8")
    assert main(args) == 1
    assert f"{feed}:2: price: price must be a whole number of won, found 'free'" in \
        capsys.readouterr().err


def test_a_feed_over_the_byte_limit_is_413(redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config(
        admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())},
        limits=dataclasses.replace(LIMITS, feed_bytes=100))
    with run_engine(config, redis_url) as engine:
        reply = put(engine, FEED)
    assert (reply.status_code, reply.json()["field"]) == (413, "body")


def test_a_feed_that_takes_too_long_to_read_is_stopped_and_changes_nothing(
        redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config(
        admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())},
        limits=dataclasses.replace(LIMITS, job_seconds=0.2))
    big = "\n".join(json.dumps({"id": f"P{n}", "name": f"상품 {n}", "price": 1000 + n,
                                "url": f"/product/P{n}"}, ensure_ascii=False)
                    for n in range(100_000))  # a second of reading, in a job's worker
    with run_engine(config, redis_url) as engine:
        good = put(engine, FEED).json()
        reply = put(engine, big)
        assert (reply.status_code, reply.json()["field"]) == (422, "body")
        assert reply.json()["error"].startswith(
            "the product feed took more than 0.2 s to process (the limit job_seconds)")
        assert current(engine).json()["version"] == good["version"]
