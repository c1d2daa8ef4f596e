"""Where a visit came from: the traffic source, from the landing URL's ad click
ids and utm parameters and from the referrer (pure; no I/O).

Precedence: paid click ids and utm tags beat the referrer, since an ad click
carries a search engine's referrer too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SEARCH_ENGINES = ("naver.com", "google.", "daum.net", "bing.com", "yahoo.", "zum.com",
                  "nate.com", "duckduckgo.com")
SOCIAL = ("facebook.com", "instagram.com", "t.co", "twitter.com", "x.com", "youtube.com",
          "kakao.com", "band.us", "tiktok.com", "threads.net", "linkedin.com")
EMAIL_HOSTS = ("mail.naver.com", "mail.google.com", "mail.daum.net", "outlook.live.com",
               "mail.yahoo.")
# Naver search ads add n_media, n_query, n_rank, n_ad_group, n_ad, n_keyword_id, n_keyword,
# n_campaign_type ... to the landing URL.
NAVER_AD_KEYS = ("n_media", "n_query", "n_rank", "n_ad_group", "n_ad", "n_keyword",
                 "n_keyword_id", "n_campaign_type", "nv_ad", "napm")
GOOGLE_AD_KEYS = ("gclid", "gbraid", "wbraid", "gad_source", "dclid")
KAKAO_AD_KEYS = ("kclid", "kakao_ad")
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "cpm", "display", "ad", "ads", "sa", "keyword")
SOCIAL_MEDIUMS = ("social", "sns", "social_media")


@dataclass(frozen=True, slots=True)
class Arrival:
    traffic_source: str
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None

    @property
    def is_ad(self) -> bool:
        return self.traffic_source.endswith("_ads")


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _matches(host: str, names: tuple[str, ...]) -> bool:
    return any(host == n or host.endswith("." + n) or (n.endswith(".") and n in host)
               or host.startswith(n) for n in names)


def classify(landing_url: str, referrer: str = "", site_host: str = "") -> Arrival:
    try:
        query = dict(parse_qsl(urlsplit(landing_url).query, keep_blank_values=True))
    except ValueError:
        query = {}
    utm = {k: query.get(f"utm_{k}") or None for k in ("source", "medium", "campaign")}
    source, medium = (utm["source"] or "").lower(), (utm["medium"] or "").lower()
    ref_host = _host(referrer)

    def arrival(kind: str) -> Arrival:
        return Arrival(kind, utm["source"], utm["medium"], utm["campaign"])

    if any(k in query for k in NAVER_AD_KEYS):
        return arrival("naver_ads")
    if any(k in query for k in GOOGLE_AD_KEYS):
        return arrival("google_ads")
    if any(k in query for k in KAKAO_AD_KEYS):
        return arrival("kakao_ads")
    if medium in PAID_MEDIUMS:
        if "naver" in source:
            return arrival("naver_ads")
        if "google" in source:
            return arrival("google_ads")
        if "kakao" in source or "daum" in source:
            return arrival("kakao_ads")
    if medium == "email" or source in ("email", "newsletter"):
        return arrival("email")
    if medium in SOCIAL_MEDIUMS:
        return arrival("social")
    if medium == "organic":
        return arrival("organic")
    if not ref_host or (site_host and (ref_host == site_host
                                       or ref_host.endswith("." + site_host))):
        return arrival("referral" if source else "direct")
    if _matches(ref_host, EMAIL_HOSTS):
        return arrival("email")
    if ref_host.startswith(("ad.", "adcr.", "searchad.")) and "naver" in ref_host:
        return arrival("naver_ads")
    if _matches(ref_host, SEARCH_ENGINES) or ref_host.startswith(("search.", "m.search.")):
        return arrival("organic")
    if _matches(ref_host, SOCIAL):
        return arrival("social")
    return arrival("referral")
