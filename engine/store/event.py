"""The Python twin of lua/event.lua: one visitor event applied to that
visitor's stored state, with no I/O (engine/store/memory.py keeps the state).

event.lua is the specification. ``apply_event`` follows it step by step, in
its order, and shows callers what Lua and its cmsgpack show them:
``lua_value`` is a value after a trip through the script (nil fields drop
out, an empty table comes back as an empty list, a whole number as an int).
A script error (a report without a rule, a purchase amount that is not a
whole number) raises here before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.profile.layout import (
    BUCKETS,
    PURCHASED_KEPT,
    TAGS_KEPT,
    day_buckets,
    day_field,
    window_sums,
)
from engine.store.base import Applied, Result, StoredEvent

# The day bucket codes in the order of the window sums (lua: METRIC).
METRIC = {code: index for index, code in enumerate(BUCKETS.values())}
# Kinds from the shop's server: they never start a visit nor move last_seen.
FROM_SERVER = frozenset({"purchase", "member", "coupon", "cart_reset", "tags", "merge",
                         "exposure"})
EXPOSURES_KEPT = 50  # the most recent exposures a profile remembers
SESSION_FACTS = ("landing_url", "traffic_source", "utm_source", "utm_medium", "utm_campaign",
                 "device")
PAGE_FACTS = ("page_url", "page_path", "page_type", "product_id", "category", "params")
MERGED_COUNTS = ("visit_count", "pageviews_total", "purchase_count", "purchase_total",
                 "ad_visit_count")
ANONYMOUS_SESSION = ("visit_started", "session_pageviews", "prev_visit_last_seen",
                     *SESSION_FACTS, *PAGE_FACTS, "last_seen")
TIMES_KEPT = 50  # a cap's recent show times
_STORED_AT = re.compile(r"\|([0-9.e+-]+)$")  # the time in "digest|time"


@dataclass(slots=True)
class VisitorState:
    """One visitor's keys as the script leaves them: the profile (``:p``,
    None when absent), the event ids (``:e``), the day buckets (``:d``,
    "YYYYMMDD:code" -> n) and the caps (``:c``, rule -> cap)."""

    profile: dict[str, Any] | None = None
    ids: dict[str, str] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)
    caps: dict[str, Any] = field(default_factory=dict)


def remembered(value: str, now: float, dedupe_ttl: float) -> bool:
    """Whether a stored id ("digest|time") is inside the dedupe window; an id
    stored without its time (by an older engine) counts as remembered."""
    found = _STORED_AT.search(value)
    return found is None or now - float(found.group(1)) <= dedupe_ttl


def apply_event(state: VisitorState, event: StoredEvent, dedupe_ttl: float) -> Result:
    """Apply ``event`` once (lua/event.lua); ``state`` changes only when the
    result is ``Applied.NEW``, and never shares a container with the result."""
    seen = state.ids.get(event.id)
    if seen is not None and remembered(seen, event.now, dedupe_ttl):
        digest = seen.split("|", 1)[0]
        status = Applied.DUPLICATE if digest == event.digest else Applied.CONFLICT
        return _reply(state, status, _window_sums(state.days, event) if event.windows else [])

    # Worked on copies and stored at the end: a script error stores nothing.
    p: dict[str, Any] = _table(lua_value(state.profile)) or {}
    days = dict(state.days)
    caps = dict(state.caps)
    ids = dict(state.ids)
    payload: dict[Any, Any] = _table(lua_value(dict(event.payload))) or {}
    kind, now, today = event.kind, float(event.now), event.day
    from_server = kind in FROM_SERVER

    def count(code: str, n: Any, day: str | None = None) -> None:
        if n == 0:
            return
        day = day or today
        _hincrby(days, day_field(day, code), n)
        kept = _kept_sums(p, today)
        if kept is not None and day >= event.oldest_day:
            for window, since in enumerate((*event.window_starts[:2], event.oldest_day)):
                if day >= since:
                    kept[window * len(METRIC) + METRIC[code]] += n

    # visits and sessions
    if p.get("first_seen") is None:
        p["first_seen"] = now
    last_seen = p.get("last_seen")
    if not from_server and (last_seen is None or now - last_seen > event.session_timeout):
        _assign(p, "prev_visit_last_seen", last_seen)
        p["visit_count"] = _or0(p.get("visit_count")) + 1
        p["visit_started"] = now
        p["session_pageviews"] = 0
        count("v", 1)
        # A new visit is the moment to drop day buckets past the longest window,
        # and the ids past the dedupe window.
        for day_code in [f for f in days if f[:8] < event.oldest_day]:
            del days[day_code]
        ids = {i: v for i, v in ids.items()
               if "|" in v and remembered(v, now, dedupe_ttl)}
        if _truthy(payload.get("traffic_source")):
            for name in SESSION_FACTS:
                _assign(p, name, payload.get(name))
            if _truthy(payload.get("is_ad")):
                p["ad_visit_count"] = _or0(p.get("ad_visit_count")) + 1

    if kind == "pageview":
        p["session_pageviews"] = _or0(p.get("session_pageviews")) + 1
        p["pageviews_total"] = _or0(p.get("pageviews_total")) + 1
        count("pv", 1)
        for name in PAGE_FACTS:
            _assign(p, name, payload.get(name))
    elif kind == "cart":
        before: dict[Any, float] = {}
        for item in map(_table, _ipairs(_table(p.get("cart")) or {})):
            if item is not None and isinstance(item.get("product_id"), str):
                product = item["product_id"]
                before[product] = before.get(product, 0) + _qty(item)
        added = []
        for item in map(_table, _ipairs(_table(payload.get("items")) or {})):
            product = item.get("product_id") if item is not None else None
            if item is not None and isinstance(product, str) and \
                    _qty(item) > before.get(product, 0):
                added.append(product)
        _assign(p, "cart", payload.get("items"))
        p["cart_updated_at"] = now
        p["cart_added"] = added
    elif kind == "purchase":
        amount = _tonumber(payload.get("amount")) or 0
        ordered = _tonumber(payload.get("ordered_at"))
        at = now if ordered is None else ordered  # lua: tonumber(payload.ordered_at) or now
        day = _arg(payload["day"]) if _truthy(payload.get("day")) else today
        p["purchase_count"] = _or0(p.get("purchase_count")) + 1
        p["purchase_total"] = _or0(p.get("purchase_total")) + amount
        if p.get("last_purchase_at") is None or at > p["last_purchase_at"]:
            p["last_purchase_at"] = at
        items = _table(payload.get("items"))
        if items is not None:
            _remember_bought(p, [item.get("product_id") for item in map(_table, _ipairs(items))
                                 if item is not None])
        if day >= event.oldest_day:
            count("pc", 1, day)
            count("pt", amount, day)
    elif kind == "member":
        p["is_member"] = True
        if _truthy(payload.get("grade")):
            p["member_grade"] = payload["grade"]
        if _truthy(payload.get("name")):
            p["member_name"] = payload["name"]
        if _truthy(payload.get("signed_up_at")) and p.get("signed_up_at") is None:
            p["signed_up_at"] = payload["signed_up_at"]
    elif kind == "coupon":
        coupons = _map(p, "coupons")
        code = _index(payload.get("code"))
        if payload.get("action") == "issued":
            _assign(coupons, code, payload.get("expires_at"))
        else:
            coupons.pop(code, None)
    elif kind == "cart_reset":
        p["cart"] = []
        p["cart_updated_at"] = now
    elif kind == "tags":
        _set_tags(p, _ipairs(_table(payload.get("add")) or {}),
                  _ipairs(_table(payload.get("remove")) or {}))
    elif kind == "merge":
        _merge(p, days, caps, payload, event.oldest_day)
    elif kind == "identify":
        # The caller merges this anonymous profile into the member's once.
        p["merge_needed"] = not _equal(p.get("member_id"), payload.get("member_id"))
        _assign(p, "member_id", payload.get("member_id"))
    elif kind == "exposure":
        for rule, group in (_table(payload.get("rules")) or {}).items():
            _expose(p, payload, now, _index(rule), group)
    elif kind == "report" and payload.get("what") == "shown":
        rule = _arg(payload.get("rule"))
        group = payload.get("group")
        _expose(p, payload, now, _index(payload.get("rule")), group if _truthy(group) else "t")
        count_shown(caps, _map(p, "fatigue"), rule, p.get("visit_count"), today, now)
    elif kind == "report":
        if payload.get("what") == "clicked":
            exposure = _table(_exposures(p, payload, now).get(_index(payload.get("rule"))))
            if exposure is not None:
                exposure["k"] = now
                p["x"][_index(payload.get("rule"))] = exposure
        if _truthy(payload.get("stop")):
            rule = _arg(payload.get("rule"))
            cap = _cap_of(caps, rule)
            cap["stop"] = True
            caps[rule] = lua_value(cap)

    if not from_server:
        p["last_seen"] = now

    sums: list[int] = []
    if event.windows:
        kept = _kept_sums(p, today)
        sums = list(kept) if kept is not None else _window_sums(days, event)
        if kept is None:
            p["w"] = {"d": today, "s": list(sums)}
    state.profile = lua_value(p)
    state.days, state.caps = days, caps
    ids[event.id] = f"{event.digest}|{event.now!r}"
    state.ids = ids
    return _reply(state, Applied.NEW, sums)


def _exposures(p: dict[str, Any], payload: Mapping[Any, Any], now: float) -> dict[Any, Any]:
    """The profile's exposures (rule -> {t, g, k}) without those past the
    attribution window, and at most EXPOSURES_KEPT - 1 of them (lua: exposures)."""
    x = _map(p, "x")
    window = _tonumber(payload.get("window")) or 0
    kept = []
    for rule, exposure in list(x.items()):
        table = _table(exposure)
        if table is None or now - (_tonumber(table.get("t")) or 0) > window:
            del x[rule]
        else:
            kept.append(rule)
    if len(kept) >= EXPOSURES_KEPT:
        kept.sort(key=lambda r: (-x[r]["t"], r))
        for rule in kept[EXPOSURES_KEPT - 1:]:
            del x[rule]
    return x


def _expose(p: dict[str, Any], payload: Mapping[Any, Any], now: float, rule: Any,
            group: Any) -> None:
    x = _exposures(p, payload, now)
    previous = _table(x.get(rule))
    x[rule] = {"t": now, "g": group}
    if previous is not None and _truthy(previous.get("k")):
        x[rule]["k"] = previous["k"]


def _remember_bought(p: dict[str, Any], ids: list[Any]) -> None:
    """The product ids bought, newest last, each once, the last PURCHASED_KEPT."""
    bought = _ipairs(_table(p.get("purchased")) or {})
    for product in ids:
        if isinstance(product, str):
            bought = [i for i in bought if i != product] + [product]
    if bought:
        p["purchased"] = bought[-PURCHASED_KEPT:]


def _set_tags(p: dict[str, Any], add: list[Any], remove: list[Any]) -> None:
    """Tags named in add or remove leave the list; those in add come back at
    its end; the last TAGS_KEPT stay (lua: set_tags)."""
    named = set(remove) | set(add)
    kept = [tag for tag in _ipairs(_table(p.get("tags")) or {}) if tag not in named] + add
    p["tags"] = kept[-TAGS_KEPT:]


def _merge(p: dict[str, Any], days: dict[str, int], caps: dict[str, Any],
           payload: dict[Any, Any], oldest: str) -> None:
    """The anonymous profile of a visitor who just proved to be this member:
    counts add, coupons and bought products union, the newest cart wins, day
    buckets add."""
    anon = _table(payload.get("anon"))
    if anon is None:
        raise ValueError("a merge carries the anonymous profile as 'anon'")
    for name in MERGED_COUNTS:
        p[name] = _or0(p.get(name)) + (_tonumber(anon.get(name)) or 0)
    first_seen = anon.get("first_seen")
    if _truthy(first_seen) and (p.get("first_seen") is None or first_seen < p["first_seen"]):
        p["first_seen"] = first_seen
    anon_coupons = _table(anon.get("coupons"))
    if anon_coupons is not None:
        coupons = _map(p, "coupons")
        for code, expiry in anon_coupons.items():
            if coupons.get(code) is None or expiry > coupons[code]:
                coupons[code] = expiry
    if _table(anon.get("cart")) is not None and \
            (_tonumber(anon.get("cart_updated_at")) or 0) > _or0(p.get("cart_updated_at")):
        p["cart"] = anon["cart"]
        _assign(p, "cart_updated_at", anon.get("cart_updated_at"))
    anon_bought = _table(anon.get("purchased"))
    if anon_bought is not None:
        _remember_bought(p, _ipairs(anon_bought))
    anon_tags = _ipairs(_table(anon.get("tags")) or {})
    if anon_tags:
        held = set(_ipairs(_table(p.get("tags")) or {}))
        _set_tags(p, [tag for tag in anon_tags if tag not in held], [])
    if _truthy(anon.get("signed_up_at")) and p.get("signed_up_at") is None:
        p["signed_up_at"] = anon["signed_up_at"]
    bought_at = anon.get("last_purchase_at")
    if _truthy(bought_at) and (p.get("last_purchase_at") is None or
                               bought_at > p["last_purchase_at"]):
        p["last_purchase_at"] = bought_at
    merged_days = _table(payload.get("days"))
    for day_code, n in (merged_days or {}).items():
        if _arg(day_code)[:8] >= oldest:
            _hincrby(days, _arg(day_code), n)
    if merged_days is not None:
        p.pop("w", None)  # summed again when next asked
    for rule, cap in (_table(payload.get("caps")) or {}).items():
        caps.setdefault(_arg(rule), lua_value(cap))  # the member's own cap wins
    anon_x = _table(anon.get("x"))
    if anon_x is not None:
        x = _map(p, "x")
        for rule, exposure in anon_x.items():
            mine = _table(x.get(rule))
            theirs = _table(exposure)
            if theirs is not None and (mine is None or (_tonumber(theirs.get("t")) or 0) >
                                       (_tonumber(mine.get("t")) or 0)):
                x[rule] = exposure
    if (_tonumber(anon.get("last_seen")) or 0) >= _or0(p.get("last_seen")):
        # The session in progress is the anonymous one.
        for name in ANONYMOUS_SESSION:
            _assign(p, name, anon.get(name))
    p["is_member"] = True


def _kept_sums(p: dict[str, Any], today: str) -> list[Any] | None:
    """Today's window sums kept in the profile (lua: p.w), or None."""
    kept = _table(p.get("w"))
    if kept is None or kept.get("d") != today or not isinstance(kept.get("s"), list) or \
            len(kept["s"]) != 3 * len(METRIC):
        return None
    return kept["s"]  # type: ignore[no-any-return]


def _reply(state: VisitorState, status: Applied, sums: list[int]) -> Result:
    """What RedisStore.apply makes of the script's reply: the profile and caps,
    the window sums when asked for, and no day buckets (profile() reads those)."""
    profile = stored_profile(state, days=False)
    if sums:
        profile["windows"] = window_sums(sums)
    return Result(status, profile)


def stored_profile(state: VisitorState, *, days: bool = True) -> dict[str, Any]:
    """The profile as engine.store.redis.decode_profile returns it: the stored
    map, ``days`` (day -> every bucket code) and ``caps`` (rule -> cap), all
    fresh copies."""
    data = lua_value(state.profile)
    profile: dict[str, Any] = data if isinstance(data, dict) else {}
    profile["days"] = day_buckets(state.days.items()) if days else {}
    profile["caps"] = {rule: lua_value(cap) for rule, cap in state.caps.items()}
    return profile


def _window_sums(days: Mapping[str, int], event: StoredEvent) -> list[int]:
    """The 7-, 30- and 90-day sums of each bucket code, in script order (lua:
    summed)."""
    n = len(METRIC)
    starts = (*event.window_starts[:2], event.oldest_day)
    sums = [0] * (len(starts) * n)
    for day_code, count in days.items():
        day, metric = day_code[:8], METRIC.get(day_code[9:])
        if metric is None or day < event.oldest_day:
            continue
        for window, since in enumerate(starts):
            if day >= since:
                sums[window * n + metric] += count
    return sums


def count_shown(caps: dict[str, Any], fatigue: dict[Any, Any], rule: str, visit: Any,
                today: str, now: float) -> None:
    """A show the widget reported: the rule's cap and the site's fatigue
    budget count it (lua: the "shown" report). Forecasts replay it too."""
    cap = _cap_of(caps, rule)
    cap["n"] = _or0(cap.get("n")) + 1
    _tally(cap, "s", "sn", visit)
    _tally(cap, "d", "dn", today)
    times = cap.get("t")
    cap["t"] = [*(times if isinstance(times, list) else []), now][-TIMES_KEPT:]
    caps[rule] = lua_value(cap)
    _tally(fatigue, "s", "sn", visit)
    _tally(fatigue, "d", "dn", today)
    fatigue["t"] = now


def _cap_of(caps: Mapping[str, Any], rule: str) -> dict[Any, Any]:
    if rule not in caps:
        return {"n": 0, "sn": 0, "dn": 0}
    cap = _table(lua_value(caps[rule]))
    if cap is None:
        raise ValueError(f"the cap of {rule!r} is not a map")
    return cap


def _tally(counter: dict[Any, Any], at: str, n: str, value: Any) -> None:
    """One more in the same visit (or day) as before, else the first of a new one."""
    if _equal(counter.get(at), value):
        counter[n] = _or0(counter.get(n)) + 1
    else:
        _assign(counter, at, value)
        counter[n] = 1


# -- Lua and cmsgpack, as far as callers can see them -------------------------

def lua_value(value: Any) -> Any:
    """``value`` after msgpack.packb, cmsgpack.unpack, cmsgpack.pack and
    msgpack.unpackb: a fresh copy in which a table whose keys are exactly 1..n
    is a list (an empty one too), any other a dict, nil entries are gone, and
    a whole number in int64 range is an int (Lua has only doubles)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(float(value))
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value, 1)
    else:  # msgpack.packb refuses it, or cmsgpack cannot read it (bytes)
        raise TypeError(f"a {type(value).__name__} cannot pass through the store")
    table = {_key(k): lua_value(v) for k, v in items if v is not None}
    if all(isinstance(k, int) and not isinstance(k, bool) for k in table) and \
            table.keys() == set(range(1, len(table) + 1)):
        return [table[i] for i in range(1, len(table) + 1)]
    return table


def _number(x: float) -> int | float:
    return int(x) if x.is_integer() and -(2 ** 63) <= x < 2 ** 63 else x


def _key(key: Any) -> Any:
    """A table key: Lua numbers are doubles, so 1 and 1.0 are one key."""
    if isinstance(key, int | float) and not isinstance(key, bool):
        return _number(float(key))
    return key


def _index(key: Any) -> Any:
    """A key to assign at: Lua refuses nil."""
    if key is None:
        raise ValueError("table index is nil")
    return _key(key)


def _table(value: Any) -> dict[Any, Any] | None:
    """Lua's view of a stored value when it is a table (a list is keyed 1..n)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return dict(enumerate(value, 1))
    return None


def _qty(item: Mapping[Any, Any]) -> float:
    """An item's quantity, 1 when it has none (lua: tonumber(item.qty) or 1, where 0 is a
    quantity)."""
    qty = _tonumber(item.get("qty"))
    return 1 if qty is None else qty


def _ipairs(table: Mapping[Any, Any]) -> list[Any]:
    """The values at 1, 2, ... up to the first missing key (lua: ipairs)."""
    out: list[Any] = []
    while len(out) + 1 in table:
        out.append(table[len(out) + 1])
    return out


def _map(p: dict[str, Any], name: str) -> dict[Any, Any]:
    """The table at ``p[name]``, made one if it is not (lua: map)."""
    table = _table(p.get(name))
    if table is None:
        table = {}
    p[name] = table
    return table


def _assign(table: dict[Any, Any], key: Any, value: Any) -> None:
    """``table[key] = value``: assigning nil removes the key."""
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value


def _truthy(value: Any) -> bool:
    """Lua truth: everything but nil and false, 0 and "" included."""
    return value is not None and value is not False


def _or0(value: Any) -> Any:
    """Lua's ``value or 0``."""
    return value if _truthy(value) else 0


def _equal(a: Any, b: Any) -> bool:
    """Lua's ``==``: tables are equal only to themselves, booleans only to booleans."""
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _tonumber(value: Any) -> int | float | None:
    """Lua 5.1's tonumber: numbers, and strings strtod reads whole (hex too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and "_" not in value:
        text = value.strip()
        try:
            if text.lstrip("+-")[:2].lower() == "0x":
                return float(int(text, 16))
            return float(text)
        except ValueError:
            return None
    return None


def _arg(value: Any) -> str:
    """A value as redis.call sends it: strings as they are, numbers as digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = _number(float(value))
        return str(number) if isinstance(number, int) else repr(number)
    raise TypeError("Lua redis lib command arguments must be strings or integers")


def _hincrby(hash_: dict[str, int], name: str, n: Any) -> None:
    """HINCRBY: Redis refuses an increment that is not a whole int64."""
    number = _tonumber(n) if isinstance(n, str) and n.lstrip("-").isdigit() else n
    if isinstance(number, bool) or not isinstance(number, int | float) or \
            not float(number).is_integer() or not -(2 ** 63) <= number < 2 ** 63:
        raise ValueError("ERR value is not an integer or out of range")
    hash_[name] = hash_.get(name, 0) + int(number)
