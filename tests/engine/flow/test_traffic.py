from __future__ import annotations

import pytest

from engine.flow.device import device_of
from engine.flow.traffic import classify

SHOP = "https://shop.example.com"


@pytest.mark.parametrize(("landing", "referrer", "source"), [
    (f"{SHOP}/?n_media=27758&n_query=가방&n_rank=1", "https://search.naver.com/", "naver_ads"),
    (f"{SHOP}/?gclid=Cj0KCQ", "https://www.google.com/", "google_ads"),
    (f"{SHOP}/?utm_source=kakao&utm_medium=cpc", "", "kakao_ads"),
    (f"{SHOP}/?utm_source=naver&utm_medium=cpc&utm_campaign=winter", "", "naver_ads"),
    (f"{SHOP}/", "https://search.naver.com/search.naver?query=가방", "organic"),
    (f"{SHOP}/", "https://m.search.daum.net/search?q=x", "organic"),
    (f"{SHOP}/", "https://www.google.co.kr/", "organic"),
    (f"{SHOP}/", "", "direct"),
    (f"{SHOP}/", f"{SHOP}/product/1", "direct"),
    (f"{SHOP}/?utm_source=newsletter&utm_medium=email", "", "email"),
    (f"{SHOP}/", "https://mail.naver.com/", "email"),
    (f"{SHOP}/", "https://www.instagram.com/", "social"),
    (f"{SHOP}/", "https://blog.example.org/review", "referral"),
])
def test_traffic_source_table(landing: str, referrer: str, source: str) -> None:
    assert classify(landing, referrer, "shop.example.com").traffic_source == source


def test_utm_tags_are_kept() -> None:
    arrival = classify(f"{SHOP}/?utm_source=naver&utm_medium=cpc&utm_campaign=winter")
    assert (arrival.utm_source, arrival.utm_medium, arrival.utm_campaign) == (
        "naver", "cpc", "winter")
    assert arrival.is_ad


@pytest.mark.parametrize(("agent", "device"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918N) Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; SM-X710) Safari/537.36", "tablet"),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "desktop"),
    ("", "desktop"),
])
def test_device_from_user_agent(agent: str, device: str) -> None:
    assert device_of(agent) == device
