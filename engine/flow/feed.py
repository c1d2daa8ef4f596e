"""A shop's product feed (pure): JSON lines or CSV, one product a line, read
whole and checked before anything is stored; every bad line is named with its
field, and a feed with one bad line changes nothing.

Fields: ``id`` (1-128 characters), ``name`` (1-200), ``price`` (won, a whole
number from 0 to ``Limits.max_amount``, 100,000,000,000), ``url`` (a path or an
http(s) address of the product page, as a browser reads it: rules/links.py),
optional ``image`` (a path or an http(s) address), ``category`` (up to 128) and
``in_stock`` (true/false, 1/0, yes/no; true when missing). At most 100,000
products; an id twice is an error.

The feed is what recommendations show (name, price, image, link) and whether
a product may be shown at all (known and in stock).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import orjson

from engine.store.base import Product
from engine.wire.protocol import LIMITS
from rules.links import LinkKind, UnsafeLink, read_link

MAX_PRODUCTS = 100_000
MAX_ERRORS = 50  # named in one answer; the feed is refused after the first anyway
FIELDS = ("id", "name", "price", "url", "image", "category", "in_stock")
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n", ""}


@dataclass(frozen=True, slots=True)
class FeedProblem:
    line: int  # 1-based, as an editor shows it (a CSV's header is line 1)
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class FeedError(Exception):
    def __init__(self, problems: list[FeedProblem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(f"line {first.line}: {first.field}: {first.message}")


def parse_feed(body: bytes, content_type: str = "", max_amount: int = LIMITS.max_amount
               ) -> list[Product]:
    """The products of a feed; raises FeedError naming every bad line (up to 50).
    CSV when the content type says so or the first line is a header that
    starts with ``id``; JSON lines otherwise."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError([FeedProblem(text_line(body, exc.start), "body",
                                     "the feed must be UTF-8")]) from None
    first = text.lstrip().split("\n", 1)[0]
    if "csv" in content_type or (not first.startswith("{") and first.startswith("id")):
        rows = _csv_rows(text)
    else:
        rows = _json_rows(text)
    products: list[Product] = []
    problems: list[FeedProblem] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, FeedProblem):
            problems.append(row)
        else:
            try:
                product = _product(row, max_amount)
            except _Bad as bad:
                problems.append(FeedProblem(line, bad.field, bad.message))
            else:
                if product.id in seen:
                    problems.append(FeedProblem(line, "id", f"{product.id!r} is already on "
                                                f"line {seen[product.id]}"))
                seen.setdefault(product.id, line)
                products.append(product)
        if len(problems) >= MAX_ERRORS:
            break
    if not problems and not products:
        problems.append(FeedProblem(1, "body", "the feed has no products"))
    if not problems and len(products) > MAX_PRODUCTS:
        problems.append(FeedProblem(1, "body", f"{len(products):,} products; a feed holds at "
                                    f"most {MAX_PRODUCTS:,}"))
    if problems:
        raise FeedError(problems)
    return products


def text_line(body: bytes, offset: int) -> int:
    return body.count(b"\n", 0, offset) + 1


def _json_rows(text: str) -> list[tuple[int, dict[str, Any] | FeedProblem]]:
    rows: list[tuple[int, dict[str, Any] | FeedProblem]] = []
    for number, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            rows.append((number, FeedProblem(number, "line", f"not JSON: {exc}")))
            continue
        if not isinstance(value, dict):
            rows.append((number, FeedProblem(number, "line", "each line is one JSON object")))
            continue
        rows.append((number, value))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | FeedProblem]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        return [(1, FeedProblem(1, "header", str(exc)))]
    unknown = [name for name in header if name not in FIELDS]
    if unknown or "id" not in header:
        return [(1, FeedProblem(1, "header", f"the header names {', '.join(FIELDS)}; "
                                f"found {', '.join(unknown) or 'no id'}"))]
    rows: list[tuple[int, dict[str, Any] | FeedProblem]] = []
    try:
        for cells in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                rows.append((number, FeedProblem(number, "line", f"{len(cells)} cells; the "
                                                 f"header has {len(header)}")))
                continue
            rows.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        rows.append((reader.line_num, FeedProblem(reader.line_num, "line", str(exc))))
    return rows


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _text(row: dict[str, Any], name: str, limit: int, required: bool) -> str:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise _Bad(name, f"{name} is required")
        return ""
    if name == "id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # shops number their products
    if not isinstance(value, str):
        raise _Bad(name, f"{name} must be text")
    value = value.strip()
    if not 0 < len(value) <= limit or any(ord(c) < 32 for c in value):
        raise _Bad(name, f"{name} must be 1-{limit} characters on one line")
    return value


def _address(row: dict[str, Any], name: str, required: bool) -> str:
    value = _text(row, name, 2048, required)
    if not value:
        return value
    try:
        kind = read_link(value)
    except UnsafeLink as exc:
        raise _Bad(name, f"{name} must be a path (/product/1) or an http(s) address; "
                   f"{value!r} {exc}") from None
    if kind is LinkKind.PATH and not value.startswith("/"):
        raise _Bad(name, f"{name} must be a path from the shop's root (/product/1) or an "
                   "http(s) address")
    return value


def _price(value: Any, max_amount: int) -> int:
    if isinstance(value, str):
        cleaned = value.strip().replace(",", "")
        try:
            value = float(cleaned) if cleaned else None
        except ValueError:
            raise _Bad("price", f"price must be a whole number of won, found {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or value != int(value) or value < 0:
        raise _Bad("price", "price must be a whole number of won ≥ 0")
    if value > max_amount:
        raise _Bad("price", f"price must be at most {max_amount:,} won")
    return int(value)


def _stock(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE or value.strip() == ""
    raise _Bad("in_stock", "in_stock is true or false")


def _product(row: dict[str, Any], max_amount: int) -> Product:
    unknown = [name for name in row if name not in FIELDS]
    if unknown:
        raise _Bad(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    if row.get("price") in (None, ""):
        raise _Bad("price", "price is required")
    return Product(_text(row, "id", 128, True), _text(row, "name", 200, True),
                   _price(row["price"], max_amount), _address(row, "url", True),
                   _address(row, "image", False), _text(row, "category", 128, False),
                   _stock(row.get("in_stock")))
