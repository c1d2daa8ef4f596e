"""What the engine records for forecasts, and how it is encoded (pure).

Four kinds of entries, one per thing that moves a visitor's delivery state
(docs/forecast.md):

- ``Evaluated``: an event the matcher saw. The flat profile it matched
  (the attributes of rules/catalogue.py, the event's facts included), its
  triggers, the caps and fatigue the delivery policy read, the rules whose
  actions were sent, and those dropped for want of products to recommend.
- ``Reported``: the widget reported an action shown (a cap and the fatigue
  budget count it), or clicked or closed with a ``stop_after`` met.
- ``Purchased``: an order of the shop's server, for the buyers baseline.
- ``Merged``: an anonymous visitor signed in; caps move to the member.

Each is one msgpack array. A profile is its values in the order of a
``Layout`` (the catalogue's attribute names less those never recorded), with
the layout's id in front, so an entry recorded before an upgrade that changed
the catalogue still decodes by its own names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from rules.catalogue import CATALOGUE

# Never recorded: free text about a person that no forecast needs.
NOT_RECORDED = frozenset({"member_name"})
# Entry kinds, the first element of each array.
EVALUATED, REPORTED, PURCHASED, MERGED = 0, 1, 2, 3
# A report's outcomes that move the delivery state.
SHOWN = "shown"


@dataclass(frozen=True, slots=True)
class Layout:
    """The attribute names a profile's values are in, and their id."""

    names: tuple[str, ...]
    id: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b("\x00".join(self.names).encode(), digest_size=4).hexdigest()
        object.__setattr__(self, "id", digest)

    def as_json(self) -> str:
        return json.dumps(list(self.names))


LAYOUT = Layout(tuple(name for name in CATALOGUE if name not in NOT_RECORDED))


@dataclass(slots=True)
class Evaluated:
    now: float
    key: str  # the profile key: "v:…" anonymous or "m:…" member
    event_id: str
    triggers: tuple[str, ...]
    held_back: bool  # in the site's holdback when it happened
    profile: dict[str, Any]
    caps: dict[str, Any]  # rule -> cap, as the policy read them (docs/storage.md)
    fatigue: dict[str, Any]
    sent: tuple[str, ...]  # the rules whose actions went out
    no_products: tuple[str, ...] = ()  # recommending rules that had nothing to show


@dataclass(frozen=True, slots=True)
class Reported:
    now: float
    key: str
    action: str  # the action's nonce: its event and rule (engine/wire/action_ids.py)
    rule: str
    what: str  # shown, clicked, closed
    stop: bool  # the report met the rule's stop_after
    visit: int  # the visitor's visit number then (caps count per visit)
    day: str  # YYYYMMDD in the site's time zone


@dataclass(frozen=True, slots=True)
class Purchased:
    now: float
    key: str
    amount: int  # won


@dataclass(frozen=True, slots=True)
class Merged:
    now: float
    key: str  # the member's profile key
    anonymous: str  # the profile key merged into it


Entry = Evaluated | Reported | Purchased | Merged


def encode(entry: Entry, layout: Layout = LAYOUT) -> bytes:
    """One entry as msgpack; stored caps may still be msgpack bytes (the
    store hands them over undecoded) and are kept so."""
    if isinstance(entry, Evaluated):
        return msgpack.packb(  # type: ignore[no-any-return]
            [EVALUATED, entry.now, entry.key, entry.event_id, list(entry.triggers),
             entry.held_back, layout.id, list(map(entry.profile.get, layout.names)), entry.caps,
             entry.fatigue, list(entry.sent), list(entry.no_products)], use_bin_type=True)
    if isinstance(entry, Reported):
        return msgpack.packb(  # type: ignore[no-any-return]
            [REPORTED, entry.now, entry.key, entry.action, entry.rule, entry.what,
             entry.stop, entry.visit, entry.day], use_bin_type=True)
    if isinstance(entry, Purchased):
        return msgpack.packb(  # type: ignore[no-any-return]
            [PURCHASED, entry.now, entry.key, entry.amount], use_bin_type=True)
    return msgpack.packb(  # type: ignore[no-any-return]
        [MERGED, entry.now, entry.key, entry.anonymous], use_bin_type=True)


class UnknownLayout(Exception):
    """An entry recorded with a profile layout this engine was not told of."""


def _cap(value: Any) -> Any:
    return msgpack.unpackb(value, raw=False, strict_map_key=False) \
        if isinstance(value, bytes) else value


def _map(value: Any) -> dict[str, Any]:
    # Lua's cmsgpack writes an empty map as an empty array.
    return value if isinstance(value, dict) else {}


def decode(blob: bytes, layouts: Mapping[str, Sequence[str]]) -> Entry:
    """The entry of ``encode``; ``layouts`` maps layout ids to their names
    (this engine's own is always known). Raises UnknownLayout, or ValueError
    for a blob that is not an entry."""
    item = msgpack.unpackb(blob, raw=False, strict_map_key=False)
    if not isinstance(item, list) or not item:
        raise ValueError("not a recorded entry")
    kind = item[0]
    if kind == EVALUATED:
        _, now, key, event_id, triggers, held_back, layout_id, values, caps, fatigue, \
            sent, no_products = item
        names = LAYOUT.names if layout_id == LAYOUT.id else layouts.get(layout_id)
        if names is None:
            raise UnknownLayout(layout_id)
        if len(names) != len(values):
            raise ValueError("a profile that does not fit its layout")
        # An attribute the profile lacked comes back as None, which every
        # reader takes as missing (the matchers, templates and the policy
        # read with .get): cheaper than leaving it out.
        profile = dict(zip(names, values, strict=True))
        return Evaluated(now, key, event_id, tuple(triggers), held_back, profile,
                         {rule: _cap(cap) for rule, cap in _map(caps).items()},
                         _map(fatigue), tuple(sent), tuple(no_products))
    if kind == REPORTED:
        _, now, key, action, rule, what, stop, visit, day = item
        return Reported(now, key, action, rule, what, stop, visit, day)
    if kind == PURCHASED:
        _, now, key, amount = item
        return Purchased(now, key, amount)
    if kind == MERGED:
        _, now, key, anonymous = item
        return Merged(now, key, anonymous)
    raise ValueError(f"unknown entry kind {kind!r}")


def sampled(key: str, share: float) -> bool:
    """Whether a profile's journey is recorded under a sampling share: a
    stable draw per profile key, so a sampled visitor is kept whole."""
    if share >= 1.0:
        return True
    digest = hashlib.blake2b(f"{key}\x00@forecast".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share
