"""The recorded entry format: every kind round-trips, a profile keeps its
attributes but never the member's name, an entry from another catalogue
decodes by its own layout, and sampling is a stable draw per profile."""

from __future__ import annotations

import msgpack
import pytest

from engine.forecast.recording import (
    LAYOUT,
    Evaluated,
    Layout,
    Merged,
    Purchased,
    Reported,
    UnknownLayout,
    decode,
    encode,
    sampled,
)

PROFILE = {"visit_count": 3, "page_path": "/product/P1", "cart_items": ["P1"],
           "params": {"utm_term": "패딩"}, "member_name": "김철수", "cart_total": 300_000,
           "hour_of_day": 21, "is_member": True}


def test_an_evaluation_round_trips_without_the_members_name() -> None:
    cap = msgpack.packb({"n": 1, "sn": 1, "s": 3})  # as the Redis store hands caps over
    entry = Evaluated(1_795_000_000.5, "m:kim", "e1", ("purchase", "pageview"), False,
                      PROFILE, {"rule-a": cap, "rule-b": {"n": 2}}, {"s": 3, "sn": 1},
                      ("rule-a",), ("rule-c",))
    back = decode(encode(entry), {})
    assert isinstance(back, Evaluated)
    # What the profile lacked is None, which the matchers and templates read as missing.
    assert {k: v for k, v in back.profile.items() if v is not None} == \
        {k: v for k, v in PROFILE.items() if k != "member_name"}
    assert "member_name" not in back.profile
    assert back.caps == {"rule-a": {"n": 1, "sn": 1, "s": 3}, "rule-b": {"n": 2}}
    assert (back.now, back.key, back.triggers, back.sent, back.no_products) == (
        entry.now, "m:kim", ("purchase", "pageview"), ("rule-a",), ("rule-c",))
    assert b"\xea\xb9\x80\xec\xb2\xa0\xec\x88\x98" not in encode(entry)  # 김철수 in UTF-8


@pytest.mark.parametrize("entry", [
    Reported(1.5, "v:1", "a1b2c3d4e5f6", "rule-a", "closed", True, 2, "20261203"),
    Purchased(2.5, "m:kim", 30_000),
    Merged(3.5, "m:kim", "visitor-0001"),
])
def test_reports_purchases_and_merges_round_trip(entry: object) -> None:
    assert decode(encode(entry), {}) == entry  # type: ignore[arg-type]


def test_an_entry_of_another_catalogue_decodes_by_its_own_layout() -> None:
    older = Layout(("visit_count", "retired_attribute"))
    entry = Evaluated(1.0, "v:1", "e1", ("pageview",), False,
                      {"visit_count": 2, "retired_attribute": "x"}, {}, {}, ())
    blob = encode(entry, older)
    with pytest.raises(UnknownLayout):
        decode(blob, {})
    back = decode(blob, {older.id: list(older.names)})
    assert isinstance(back, Evaluated) and back.profile["visit_count"] == 2
    assert older.id != LAYOUT.id


def test_a_blob_that_is_no_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        decode(msgpack.packb([9, 1]), {})


def test_sampling_is_a_stable_share_per_profile() -> None:
    keys = [f"visitor-{n:05d}" for n in range(10_000)]
    chosen = [key for key in keys if sampled(key, 0.1)]
    assert 900 < len(chosen) < 1_100
    assert chosen == [key for key in keys if sampled(key, 0.1)]
    assert all(sampled(key, 1.0) for key in keys[:100])
