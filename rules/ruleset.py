"""The compiled form of a rule file: a ``Ruleset``.

This is the contract between the compiler (``rules.compile``) and everything that
runs rules: the reference evaluator (``rules.evaluate``), the Cython matcher
(``engine.matcher.compiled``), the delivery policy and the admin API. It is plain data,
serialisable to canonical JSON; the SHA-256 of that JSON is the version.

Conditions
----------
Every distinct test of a profile value in the file is one ``Predicate``
(attribute, operator, constant), stored once however many rules use it. Each
rule's condition is a ``program``: a postfix sequence of ints where ``i >= 0``
pushes predicate ``i``'s truth value and the negative opcodes below combine the
stack. A program leaves exactly one value.

Semantics of a predicate (the reference evaluator is the executable form):

- The value is ``profile[attribute]`` (for ``PARAM``-keyed predicates,
  ``profile["params"][key]``). Missing means the key is absent or ``None``.
- With a missing value every operator is false (``NE`` and ``NOT_IN`` too),
  and so is ``EXISTS``. ``NOT`` in the program then negates that false.
- Numbers compare as IEEE doubles. Strings compare exactly (case-sensitive).
- ``CONTAINS`` on a string is a substring test, on a string set membership.
- ``MATCHES`` is a glob (``rules.glob``): ``*`` any run of characters
  including ``/``, ``?`` exactly one character, everything else literal.
- ``HAS_COUPON code``: ``coupons[code] > now``.
- ``EXPIRES_WITHIN [code or None, seconds]``: some coupon (that one, if a code
  is given) has ``now < expiry <= now + seconds``. Both coupon tests are false
  when ``now`` is missing.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Constant: TypeAlias = bool | int | float | str | list[Any] | None

TRIGGERS: tuple[str, ...] = ("pageview", "cart", "track", "identify", "exit_intent", "scroll",
                             "idle", "purchase", "member", "coupon")
"""Events that evaluate rules. Browser events: pageview, cart, track, identify,
and the widget's signals exit_intent, scroll and idle. Server-to-server events:
purchase, member, coupon (a cart_reset from the server evaluates `cart` rules)."""

DEFAULT_TRIGGERS: tuple[str, ...] = ("pageview",)

WIDGETS: tuple[str, ...] = ("popcorn_button", "push_note", "round_floating", "bookmark_prompt")

REPORTS: tuple[str, ...] = ("shown", "clicked", "closed")
"""What the widget reports back about an action."""

STOP_AFTER: tuple[str, ...] = ("click", "close")


class Op(enum.IntEnum):
    """Predicate operators. The numbers are part of the serialised form."""

    EQ = 1
    NE = 2
    LT = 3
    LE = 4
    GT = 5
    GE = 6
    BETWEEN = 7  # arg [lo, hi], inclusive
    IN = 8  # arg: list of constants
    NOT_IN = 9
    CONTAINS = 10
    MATCHES = 11
    STARTS_WITH = 12
    IS_TRUE = 13  # a bool attribute used as a condition
    EXISTS = 14
    HAS_COUPON = 15  # arg: code
    EXPIRES_WITHIN = 16  # arg: [code or None, seconds]


class Code(enum.IntEnum):
    """Program opcodes (negative, so that ``i >= 0`` can index a predicate)."""

    AND = -1  # pop b, pop a, push a and b
    OR = -2
    NOT = -3  # pop a, push not a
    TRUE = -4  # push true (a folded constant)
    FALSE = -5


@dataclass(frozen=True, slots=True)
class Predicate:
    attribute: str
    op: Op
    arg: Constant = None
    key: str | None = None  # the query parameter name, for attribute "params"

    def as_json(self) -> list[Any]:
        return [self.attribute, int(self.op), self.arg, self.key]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Predicate:
        attribute, op, arg, key = data
        return cls(attribute, Op(op), arg, key)


# -- delivery options, normalised -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frequency:
    """At most ``max`` shows per ``per``: "session", "day" (calendar day in the
    site's time zone), "visitor" (ever) or "window" (``seconds`` rolling)."""

    max: int
    per: str
    seconds: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule may show, in the rule file's time zone (the site's when the
    file has none: ``Ruleset.timezone``). ``starts``/``ends`` are
    ISO 8601 local date-times (``ends`` exclusive); ``weekdays`` empty means
    every day; ``hours`` are [start_minute, end_minute) windows of the day,
    crossing midnight when start > end; empty means all day."""

    starts: str | None = None
    ends: str | None = None
    weekdays: tuple[str, ...] = ()
    hours: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Pages:
    include: tuple[str, ...] = ()  # globs on page_path; empty means every page
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Arming:
    """Client-side conditions the widget waits for before rendering."""

    delay: float = 0.0  # seconds after arrival
    scroll: int = 0  # percent of the page scrolled
    exit_intent: bool = False
    idle: float = 0.0  # seconds without input


@dataclass(frozen=True, slots=True)
class TemplateVar:
    """``{{ name | filter(arg) | ... }}``; filters are (name, arg or None)."""

    name: str
    filters: tuple[tuple[str, Constant], ...] = ()


TemplatePart: TypeAlias = str | TemplateVar


RECOMMENDATIONS: tuple[str, ...] = ("bought_together",)
"""Where product cards come from: products often bought with the ones ``of`` names."""

CARD_WIDGETS: tuple[str, ...] = ("push_note", "round_floating", "popcorn_button")
"""Widgets that can show product cards."""


@dataclass(frozen=True, slots=True)
class Recommend:
    """Product cards in an action: ``count`` products of the shop's feed, from
    ``kind``, of the page's product or of the cart's, never one in the cart or
    out of stock. An action with none to show is not sent."""

    kind: str = "bought_together"
    of: str = "product"  # "product" | "cart"
    count: int = 3


@dataclass(frozen=True, slots=True)
class Action:
    widget: str
    content: Mapping[str, tuple[TemplatePart, ...]]  # field -> template parts
    arming: Arming = field(default_factory=Arming)
    login_required: bool = False  # the link needs a login: add the shop's return URL
    recommend: Recommend | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    index: int  # position in the file
    line: int  # where the rule starts in its file
    priority: int
    triggers: tuple[str, ...]
    program: tuple[int, ...]
    action: Action
    frequency: Frequency | None
    stop_after: tuple[str, ...] = ()
    schedule: Schedule | None = None
    pages: Pages | None = None
    holdout: float = 0.0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Fatigue:
    """Site-wide budget across all rules for one visitor."""

    max_per_session: int | None = None
    max_per_day: int | None = None
    min_interval: int = 0  # seconds between two actions


@dataclass(frozen=True)
class Ruleset:
    site: str
    # The file's `timezone:`, the zone of its schedules and of hour_of_day/weekday;
    # None when the file has none: the engine's site config gives the zone then.
    timezone: str | None
    predicates: tuple[Predicate, ...]
    rules: tuple[Rule, ...]  # file order
    fatigue: Fatigue = field(default_factory=Fatigue)

    def __post_init__(self) -> None:
        by_trigger: dict[str, list[int]] = {t: [] for t in TRIGGERS}
        for rule in sorted(self.rules, key=lambda r: (-r.priority, r.index)):
            if rule.enabled:
                for trigger in rule.triggers:
                    by_trigger[trigger].append(rule.index)
        # Derived, not serialised: rule indices per trigger in priority order
        # (higher priority first, then file order), enabled rules only.
        object.__setattr__(self, "by_trigger",
                           {t: tuple(ix) for t, ix in by_trigger.items()})
        # Attributes the predicates read, in catalogue order: the order in which
        # both evaluators type-check a profile.
        from rules.catalogue import CATALOGUE

        read = {p.attribute for p in self.predicates}
        if any(p.op in (Op.HAS_COUPON, Op.EXPIRES_WITHIN) for p in self.predicates):
            read.add("now")
        object.__setattr__(self, "attributes", tuple(a for a in CATALOGUE if a in read))

    by_trigger: Mapping[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    attributes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    # -- serialisation ---------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        from rules.serialize import ruleset_as_json

        return ruleset_as_json(self)

    def dumps(self) -> bytes:
        """Canonical JSON: the same file always compiles to the same bytes."""
        return canonical_json(self.as_json())

    @functools.cached_property
    def version(self) -> str:
        return hashlib.sha256(self.dumps()).hexdigest()[:16]

    @classmethod
    def loads(cls, data: bytes | str) -> Ruleset:
        from rules.serialize import ruleset_from_json

        return ruleset_from_json(json.loads(data))


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()
