"""Which rules a conversion is credited to (pure): every rule whose action the
buyer was shown (treated) or held out from (control) within the site's
attribution window before it, with its measurement group; click-through
credit when the action was also clicked within the window (docs/stats.md).

Exposures are remembered in the profile (``x``: rule -> {t, g, k}) by the store
(engine/store/lua/event.lua), each with the group it was drawn into then."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Credit:
    rule: str
    group: str  # "t10": treated, drawn with a 10% holdout; "c10": its control
    clicked: bool  # the action was clicked within the window too


def _time(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def credited(exposures: object, now: float, window: float) -> list[Credit]:
    """The credits of a conversion at ``now``, in rule order."""
    if not isinstance(exposures, Mapping):
        return []  # none yet (an empty map comes back from the store as a list)
    out = []
    for rule, exposure in exposures.items():
        if not isinstance(exposure, Mapping):
            continue
        shown, group = _time(exposure.get("t")), exposure.get("g")
        if shown is None or not isinstance(group, str) or not 0 <= now - shown <= window:
            continue
        clicked = _time(exposure.get("k"))
        out.append(Credit(str(rule), group,
                          clicked is not None and 0 <= now - clicked <= window))
    return sorted(out)
