"""Reading a shop's product feed: JSON lines or CSV, every bad line named with
its field, nothing half-read."""

from __future__ import annotations

import json

import pytest

from engine.flow.feed import MAX_PRODUCTS, FeedError, parse_feed
from engine.store.base import Product

JSONL = "\n".join(json.dumps(row, ensure_ascii=False) for row in (
    {"id": "P1", "name": "가죽 토트백", "price": 129000, "url": "/product/P1",
     "image": "https://cdn.example.com/p1.jpg", "category": "bags"},
    {"id": 1002, "name": "반지갑", "price": "39,000",
     "url": "https://shop.example.com/product/1002", "in_stock": False},
)) + "\n"
CSV = """id,name,price,url,image,in_stock
P1,"가죽 토트백, 블랙",129000,/product/P1,,yes
P2,반지갑,39000,/product/P2,,no
"""


def test_json_lines() -> None:
    assert parse_feed(JSONL.encode()) == [
        Product("P1", "가죽 토트백", 129_000, "/product/P1", "https://cdn.example.com/p1.jpg",
                "bags"),
        Product("1002", "반지갑", 39_000, "https://shop.example.com/product/1002",
                in_stock=False)]


def test_csv_with_a_header_and_quoted_commas() -> None:
    products = parse_feed(CSV.encode("utf-8-sig"), "text/csv")
    assert [(p.id, p.name, p.in_stock) for p in products] == [
        ("P1", "가죽 토트백, 블랙", True), ("P2", "반지갑", False)]


@pytest.mark.parametrize(("feed", "line", "field"), [
    ('{"id": "P1", "name": "a", "price": -1, "url": "/p"}', 1, "price"),
    ('{"id": "P1", "name": "a", "price": 1.5, "url": "/p"}', 1, "price"),
    ('{"id": "P1", "name": "a", "price": 1, "url": "javascript:alert(1)"}', 1, "url"),
    ('{"id": "P1", "name": "a", "price": 1, "url": "/p", "image": "//evil.example/x.png"}', 1,
     "image"),
    ('{"id": "P1", "price": 1, "url": "/p"}', 1, "name"),
    ('{"id": "P1", "name": "a", "price": 1, "url": "/p", "colour": "red"}', 1, "colour"),
    ('{"id": "P1", "name": "a", "price": 1, "url": "/p"}\n{"id": "P1", "name": "b", '
     '"price": 2, "url": "/q"}', 2, "id"),
    ('{"id": "P1", "name": "a", "price": 1, "url": "/p"}\n\nnot json', 3, "line"),
    ("id,name,price,url\nP1,a,1\n", 2, "line"),
    ("id,name,cost,url\n", 1, "header"),
    ("", 1, "body"),
])
def test_a_bad_line_is_named_with_its_field(feed: str, line: int, field: str) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(feed.encode())
    first = info.value.problems[0]
    assert (first.line, first.field) == (line, field)


def test_every_bad_line_is_named_up_to_fifty() -> None:
    feed = "\n".join(json.dumps({"id": f"P{n}", "name": "a", "price": -1, "url": "/p"})
                     for n in range(80))
    with pytest.raises(FeedError) as info:
        parse_feed(feed.encode())
    assert [p.line for p in info.value.problems] == list(range(1, 51))


def test_a_feed_over_the_limit_is_refused() -> None:
    feed = "id,name,price,url\n" + "".join(f"P{n},a,1,/p\n" for n in range(MAX_PRODUCTS + 1))
    with pytest.raises(FeedError) as info:
        parse_feed(feed.encode())
    assert "at most 100,000" in info.value.problems[0].message


def test_bytes_that_are_not_utf8_are_named_with_their_line() -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(b'{"id": "P1", "name": "a", "price": 1, "url": "/p"}\n{"name": "\xff"}')
    assert (info.value.problems[0].line, info.value.problems[0].field) == (2, "body")


@pytest.mark.parametrize("url", [
    "/\\evil.example/phish", "\\/evil.example/phish", "\\\\evil.example/phish",
    "https://shop.example.com\\@evil.example/"])
def test_a_link_a_browser_would_take_off_the_shop_is_refused(url: str) -> None:
    # A browser reads "\" as "/" before the query: "/\evil.example" starts a host.
    with pytest.raises(FeedError) as info:
        parse_feed(json.dumps({"id": "P1", "name": "a", "price": 1, "url": url}).encode())
    assert info.value.problems[0].field == "url"


def test_a_query_keeps_its_backslashes() -> None:
    row = {"id": "P1", "name": "a", "price": 1, "url": "/search?q=a\\b"}
    assert parse_feed(json.dumps(row).encode())[0].url == "/search?q=a\\b"


@pytest.mark.parametrize("price", [1e30, 100_000_000_001, "1e19", "100,000,000,001"])
def test_a_price_past_the_largest_amount_is_refused(price: object) -> None:
    # 1e30 was accepted, and a socket's writer then died encoding the card.
    with pytest.raises(FeedError) as info:
        parse_feed(json.dumps({"id": "P1", "name": "a", "price": price, "url": "/p"}).encode())
    assert (info.value.problems[0].field, info.value.problems[0].message) == (
        "price", "price must be at most 100,000,000,000 won")


def test_the_largest_amount_is_a_price() -> None:
    row = {"id": "P1", "name": "a", "price": 100_000_000_000, "url": "/p"}
    assert parse_feed(json.dumps(row).encode())[0].price == 100_000_000_000
