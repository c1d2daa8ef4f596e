"""``GET /v1/sites/{site}/stats?from=YYYY-MM-DD&to=YYYY-MM-DD[&rule=ID]``: what
each rule, and the site's personalization as a whole, earned over a date range
in the site's time zone (admin token; docs/stats.md), dates from 2000-01-01 to
2100-12-31, at most 400 days at once. JSON, or CSV for a spreadsheet with
``Accept: text/csv``."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.delivery.counters import SITE
from engine.http.admin import admin_endpoint
from engine.http.bodies import RequestError, error
from engine.http.services import Services
from engine.runtime.site import LiveSite
from engine.stats.report import as_csv, day_key, report

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_DAYS = 400
DEFAULT_DAYS = 14
# The dates a shop's figures can fall on. Near the ends of Python's dates
# (years 1 and 9999) the default range would overflow: a 500, not an answer.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def _date(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise RequestError(422, name, f"{raw!r} is not a date like 2026-12-01") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise RequestError(422, name, f"{raw} is outside the dates the figures cover, "
                           f"{FIRST_DAY} to {LAST_DAY}")
    return day


def date_range(request: Request, today: date) -> tuple[date, date]:
    last = _date(request, "to", today)
    first = _date(request, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise RequestError(422, "from", f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise RequestError(422, "to", f"at most {MAX_DAYS} days at once")
    return first, last


@admin_endpoint
async def stats(request: Request, site: LiveSite, found: Services) -> Response:
    today = datetime.fromtimestamp(found.clock.now(), site.calendar.tz).date()
    first, last = date_range(request, today)
    days = [day_key(first + timedelta(days=n)) for n in range((last - first).days + 1)]
    store, site_id = found.store, site.config.id
    daily = {day: await store.stats(site_id, day) for day in days}
    names_by_day = {day: await store.visitor_names(site_id, day) for day in days}
    names = set().union(*names_by_day.values())
    distinct = await store.visitors(site_id, days, sorted(names))
    distinct_daily = {day: await store.visitors(site_id, [day], sorted(day_names))
                      for day, day_names in names_by_day.items() if day_names}
    active = [rule.id for rule in site.rules.ruleset.rules] if site.rules else []
    data = report(site_id, first, last, site.config.timezone, daily, distinct, distinct_daily,
                  active)
    data["site_wide"]["holdback"] = site.config.holdback
    data["attribution_hours"] = site.config.attribution / 3_600
    wanted = request.query_params.get("rule")
    if wanted is not None:
        data["rules"] = [r for r in data["rules"] if r["rule"] == wanted]
        if not data["rules"]:
            return error(404, "rule", f"no rule {wanted!r} in the active rules or in the "
                         "figures of this range")
    if "text/csv" in request.headers.get("accept", ""):
        # A byte order mark: spreadsheets then read the Korean as UTF-8.
        return Response("\ufeff" + as_csv(data), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{site_id}-{first}-{last}.csv"'})
    return JSONResponse(data)


@admin_endpoint
async def live(request: Request, site: LiveSite, found: Services) -> Response:
    """The console's live figures: this node's open sockets of the site and the
    visitors they belong to, its events per second (last 10 s), and the site's
    distinct visitors today on every node."""
    now = found.clock.now()
    site_id = site.config.id
    today = site.calendar.at(now).day
    names = [name for name in await found.store.visitor_names(site_id, today)
             if name.startswith(f"{SITE}|visitors|")]
    today_visitors = await found.store.visitors(site_id, [today], names) if names else {}
    connections, visitors = found.registry.figures(site_id)
    return JSONResponse({"connections": connections, "visitors_now": visitors,
                         "events_per_second": found.metrics.rates.per_second(
                             site_id, time.monotonic()),
                         "visitors_today": sum(today_visitors.values()), "at": now})


def routes() -> list[Route]:
    return [Route("/v1/sites/{site}/stats", stats, methods=["GET"]),
            Route("/v1/sites/{site}/live", live, methods=["GET"])]
