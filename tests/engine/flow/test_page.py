from __future__ import annotations

import pytest

from engine.flow.page import page_of


@pytest.mark.parametrize(("url", "kind", "product"), [
    ("https://s.kr/", "home", None),
    ("https://s.kr/product/여름-가방/123/category/4/", "product", "123"),
    ("https://s.kr/product/detail.html?product_no=77&cate_no=4", "product", "77"),
    ("https://s.kr/goods/goods_view.php?goodsNo=1000", "product", "1000"),
    ("https://s.kr/order/basket.html", "cart", None),
    ("https://s.kr/order/orderform.html", "checkout", None),
    ("https://s.kr/product/list.html?cate_no=24", "category", None),
    ("https://s.kr/about", "other", None),
])
def test_page_type_and_product_are_inferred(url: str, kind: str, product: str | None) -> None:
    page = page_of(url)
    assert (page.page_type, page.product_id) == (kind, product)


def test_what_the_shop_says_wins_and_path_excludes_host_and_query() -> None:
    page = page_of("https://s.kr/p/%EA%B0%80%EB%B0%A9?utm_source=x", page_type="product",
                   product_id="B-1", category="bags")
    assert (page.path, page.page_type, page.product_id, page.category) == (
        "/p/가방", "product", "B-1", "bags")
    assert page.params == {"utm_source": "x"}
