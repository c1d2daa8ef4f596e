"""The page a visitor is on: path, query parameters and kind, from what the
widget sends (pure). Common Korean shop URL shapes (Cafe24, Godomall, Imweb)
fill in the page type and product id when the shop did not say."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from rules.catalogue import PAGE_TYPES

_PRODUCT_PATH = re.compile(r"^/(?:product|goods|shop/item|products?)/(?:[^/]+/)?(\d+)(?:/|$)")
_PRODUCT_KEYS = ("product_no", "goodsNo", "goods_no", "idx", "item_id", "product_id")
_KINDS = (
    (re.compile(r"^/(?:order/)?(?:basket|cart)"), "cart"),
    (re.compile(r"^/order/(?:orderform|checkout)|^/checkout"), "checkout"),
    (re.compile(r"^/order/order_result|^/order/complete|/order_?complete"), "order_complete"),
    (re.compile(r"^/(?:product/list|category|goods/goods_list|shop/list)"), "category"),
    (re.compile(r"^/(?:product/search|search)"), "search"),
    (re.compile(r"^/(?:member|myshop|mypage|login|join)"), "member"),
)


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    page_type: str = "other"
    product_id: str | None = None
    category: str | None = None


@functools.lru_cache(maxsize=8192)  # shops' pages repeat; a Page is never changed
def page_of(url: str, page_type: str | None = None, product_id: str | None = None,
            category: str | None = None) -> Page:
    try:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = unquote(parts.path) or "/"
    except ValueError:
        parts, params, path = None, {}, "/"
    if product_id is None:
        m = _PRODUCT_PATH.match(path)
        product_id = m.group(1) if m else next(
            (params[k] for k in _PRODUCT_KEYS if params.get(k)), None)
    if page_type not in PAGE_TYPES:
        page_type = _infer_type(path, product_id)
    if category is None:
        category = params.get("cate_no") or params.get("cateCd") or None
    return Page(url, path, params, page_type, product_id, category)


def _infer_type(path: str, product_id: str | None) -> str:
    if path in ("/", "/index.html", "/main"):
        return "home"
    for pattern, kind in _KINDS:
        if pattern.search(path):
            return kind
    if product_id is not None or path.startswith(("/product/", "/goods/")):
        return "product"
    return "other"
