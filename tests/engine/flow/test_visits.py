"""One event's way through the engine, seen from the stored profile: visits
follow the site's own session timeout, and each visit keeps where it came from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.delivery.policy import holdout_share
from engine.flow.identity import sign_member
from engine.runtime.clock import ManualClock
from engine.runtime.config import Config
from tests.conftest import SECRET, on_store, run_engine, site_config
from tests.engine.client import Visitor

SHOP = "https://shop.example.com"
GOOGLE_AD = f"{SHOP}/?gclid=Cj0KCQiA"
NAVER_AD = f"{SHOP}/?n_media=27758&n_query=%EA%B0%80%EB%B0%A9"


def stored(redis_url: str, visitor: str) -> dict[str, Any]:
    return on_store(redis_url, lambda store: store.profile("demo-shop", visitor))


def test_visits_follow_the_sites_session_timeout_and_keep_their_source(redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config(session_timeout=10 * 60.0)})
    with run_engine(config, redis_url) as engine:
        v = Visitor(engine, "returner-0001")
        v.page(GOOGLE_AD, referrer="https://www.google.com/")
        engine.clock.advance(9 * 60)
        v.page(NAVER_AD, referrer="https://search.naver.com/")  # same visit: an inner page
        profile = stored(redis_url, "returner-0001")
        assert (profile["visit_count"], profile["traffic_source"]) == (1, "google_ads")
        assert profile["landing_url"] == GOOGLE_AD
        engine.clock.advance(11 * 60)  # past this site's 10 minutes
        v.page(NAVER_AD, referrer="https://search.naver.com/")
        profile = stored(redis_url, "returner-0001")
        assert (profile["visit_count"], profile["traffic_source"]) == (2, "naver_ads")
        assert profile["landing_url"] == NAVER_AD
        assert profile["device"] == "mobile"
        v.close()


def test_a_new_connection_after_the_timeout_starts_a_visit_with_its_source(
        redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config()})
    with run_engine(config, redis_url) as engine:
        first = Visitor(engine, "returner-0002")
        first.page(f"{SHOP}/")
        first.close()
        engine.clock.advance(31 * 60)
        second = Visitor(engine, "returner-0002")
        second.page(GOOGLE_AD, referrer="https://www.google.com/")
        profile = stored(redis_url, "returner-0002")
        assert (profile["visit_count"], profile["traffic_source"]) == (2, "google_ads")
        second.close()


def test_a_rule_files_timezone_is_the_zone_of_its_schedules(redis_url: str,
                                                            tmp_path: Path) -> None:
    at_0930_utc = datetime(2026, 11, 19, 9, 30, tzinfo=UTC).timestamp()  # 18:30 in Seoul
    rules = ("site: demo-shop\n{zone}rules:\n  - id: morning-note\n"
             "    do: {{widget: push_note, title: 좋은 아침, body: 오전 특가}}\n"
             '    schedule: {{hours: "09:00-10:00"}}\n')
    cases = [("timezone: UTC\n", "Asia/Seoul", True),  # the file's zone wins
             ("", "UTC", True),  # no zone in the file: the site's
             ("", "Asia/Seoul", False)]
    for n, (zone, site_zone, shown) in enumerate(cases):
        path = tmp_path / f"rules{n}.yaml"
        path.write_text(rules.format(zone=zone), encoding="utf-8")
        config = Config(sites={"demo-shop": site_config(path, timezone=site_zone)})
        with run_engine(config, redis_url, clock=ManualClock(at_0930_utc)) as engine:
            v = Visitor(engine, f"early-bird-{n:02}")
            v.page(f"{SHOP}/")
            assert bool(v.actions) is shown, (zone, site_zone)


def test_the_holdout_draw_is_the_members_on_every_door(redis_url: str, tmp_path: Path) -> None:
    rule = "member-thanks"
    path = tmp_path / "holdout.yaml"
    path.write_text(f"site: demo-shop\nrules:\n  - id: {rule}\n    on: [pageview, purchase]\n"
                    "    if: is_member\n"
                    "    do: {widget: push_note, title: 감사합니다, body: 단골 혜택}\n"
                    '    holdout: "50%"\n', encoding="utf-8")
    # A device the draw holds out, signed in as a member the draw treats.
    device = next(d for d in (f"device-{n:05}" for n in range(1000))
                  if holdout_share(d, rule) < 0.5)
    member = next(m for m in (f"member-{n}" for n in range(1000))
                  if holdout_share(f"m:{m}", rule) >= 0.5)
    config = Config(sites={"demo-shop": site_config(path)})
    with run_engine(config, redis_url) as engine:
        v = Visitor(engine, device)
        v.send("identify", {"member_id": member, "signature": sign_member(SECRET, member)})
        v.page(f"{SHOP}/")
        assert [a["rule"] for a in v.actions] == [rule]  # the member's draw, not the device's
