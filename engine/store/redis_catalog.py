"""The shop's product feed and what its products are bought with, in Redis
(engine/store/base.py ``Catalog``): one slot per site, ``{SITE:products}``."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, cast

from engine.store.base import (
    TOGETHER_KEPT,
    TOGETHER_ORDER_ITEMS,
    TOGETHER_TTL,
    Feed,
    Product,
    ranked,
    together_weight,
)

if TYPE_CHECKING:
    from engine.store.redis import RedisStore


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _products_key(site: str, suffix: str) -> str:
    return f"ondo:{{{site}:products}}:{suffix}"


class RedisCatalog:
    """``ondo:{SITE:products}:feed`` (hash: id -> the product as JSON) and
    ``:info`` (its version, size and time), replaced by RENAME of a feed written
    beside it; ``:bt:PRODUCT`` (sorted set: partner -> weight, lua/together.lua)."""

    CHUNK = 1000  # products per HSET while a feed is written

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.client = store.client

    async def replace(self, site: str, products: Sequence[Product], now: float) -> Feed:
        rows = {p.id: json.dumps(p.as_json(), ensure_ascii=False, separators=(",", ":"))
                for p in products}
        version = hashlib.sha256("\n".join(f"{k}\t{v}" for k, v in sorted(rows.items()))
                                 .encode()).hexdigest()[:16]
        building = _products_key(site, f"feed:{version}:{secrets.token_hex(4)}")
        items = list(rows.items())
        async with self.store.reaching():
            try:
                for start in range(0, len(items), self.CHUNK):
                    await self.client.hset(building, mapping=dict(items[start:start + self.CHUNK]))
                await self.store._evalsha(
                    self.store.feed_swap_script,
                    (building, _products_key(site, "feed"), _products_key(site, "info")),
                    (version, len(rows), repr(now)))
            finally:
                await self.client.delete(building)  # gone already unless this failed
        return Feed(version, len(rows), now)

    async def feed(self, site: str) -> Feed | None:
        async with self.store.reaching():
            info = await self.client.hgetall(_products_key(site, "info"))
        if not info:
            return None
        data = {_text(k): _text(v) for k, v in info.items()}
        return Feed(data["version"], int(data["products"]), float(data["updated_at"]))

    async def products(self, site: str, ids: Sequence[str]) -> dict[str, Product]:
        if not ids:
            return {}
        async with self.store.reaching():
            rows = await self.client.hmget(_products_key(site, "feed"), list(ids))
        return {product_id: Product(**json.loads(row))
                for product_id, row in zip(ids, rows, strict=True) if row is not None}

    async def add_order(self, site: str, products: Sequence[str], at: float) -> None:
        distinct = list(dict.fromkeys(products))[:TOGETHER_ORDER_ITEMS]
        if len(distinct) < 2:
            return
        await self.store._evalsha(
            self.store.together_script, (_products_key(site, "feed"),),
            (repr(together_weight(at)), TOGETHER_KEPT, TOGETHER_TTL,
             _products_key(site, "bt:"), *distinct))

    async def bought_with(self, site: str, products: Sequence[str]) -> list[str]:
        weights: dict[str, float] = {}
        async with self.store.reaching():
            for product in dict.fromkeys(products):
                pairs = cast(list[tuple[bytes, float]], await self.client.zrevrange(
                    _products_key(site, f"bt:{product}"), 0, TOGETHER_KEPT - 1,
                    withscores=True))
                for partner, weight in pairs:
                    name = _text(partner)
                    weights[name] = weights.get(name, 0.0) + float(weight)
        return ranked(weights, products)

    async def recommend(self, site: str, seeds: Sequence[str], leave_out: Collection[str],
                        count: int) -> list[Product]:
        seeds = list(dict.fromkeys(seeds))
        if not seeds or count < 1:
            return []
        rows = await self.store._evalsha(
            self.store.recommend_script, (_products_key(site, "feed"),),
            (_products_key(site, ""), TOGETHER_KEPT, count, len(seeds), *seeds, *leave_out))
        return [Product(**json.loads(row)) for row in rows]


