"""The admin HTTP API: a site's rule files (upload, validate, versions,
rollback, the active file) and explain.

Calls carry ``Authorization: Bearer ADMIN_TOKEN`` (the site's token, stored
hashed): missing or wrong -> 401, another site's token -> 403, unknown site ->
404. Errors are JSON ``{"error", "field"}`` (and ``errors`` for rule problems,
the same list ``ondo rules check`` prints); storage down -> 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import rules
from engine.flow.pipeline import decide, profile_view
from engine.http.bodies import RequestError, error, read_body, read_object
from engine.http.services import Services, services
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import StoreUnavailable, source_version
from rules.catalogue import CATALOGUE, readable_names
from rules.conditions import did_you_mean
from rules.errors import ProfileError
from rules.evaluate import check_value
from rules.limits import MAX_FILE_BYTES


def site_of(request: Request) -> LiveSite:
    site = services(request).sites.get(request.path_params["site"])
    if site is None:
        raise RequestError(404, "site", "unknown site")
    return site


def _admin(request: Request) -> LiveSite:
    site = site_of(request)
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not token:
        raise RequestError(401, "authorization", "missing bearer token")
    if site.config.admin_token_ok(token):
        return site
    others = services(request).sites.values()
    if any(s is not site and s.config.admin_token_ok(token) for s in others):
        raise RequestError(403, "authorization", "this token belongs to another site")
    raise RequestError(401, "authorization", "wrong token")


Handler = Callable[[Request, LiveSite, Services], Awaitable[Response]]


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The site and its admin token checked once for every admin route; a
    storage outage is a 503 for all of them."""

    async def endpoint(request: Request) -> Response:
        site = _admin(request)
        try:
            return await handler(request, site, services(request))
        except StoreUnavailable:
            return error(503, "storage", "storage unavailable; try again")

    endpoint.__name__ = handler.__name__
    return endpoint


def _problems(compiled: rules.Compiled) -> dict[str, Any]:
    return {"errors": [p.as_json() for p in compiled.errors],
            "warnings": [p.as_json() for p in compiled.warnings]}


@admin_endpoint
async def put_rules(request: Request, site: LiveSite, found: Services) -> Response:
    body = await read_body(request, MAX_FILE_BYTES)
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError:
        return error(422, "body", "the rule file must be UTF-8")
    compiled = rules.check(source, f"{site.config.id}.yaml")
    if compiled.ruleset is None:
        return JSONResponse({"error": "the rule file has errors", "field": "body",
                             **_problems(compiled)}, status_code=422)
    ruleset = compiled.ruleset
    if ruleset.site != site.config.id:
        return error(422, "site", f"the file is for site {ruleset.site!r}, not "
                     f"{site.config.id!r}")
    versions = found.store.versions
    version = source_version(source)
    note = request.query_params.get("note", "")
    unchanged = await versions.active(site.config.id) == version
    new = await versions.save(site.config.id, version, source, note, len(ruleset.rules),
                              found.clock.now())
    await versions.activate(site.config.id, version)
    site.load(version, source, found.matcher_class)
    # new: false is the same text as an earlier version, which keeps its note.
    return JSONResponse({"version": version, "rules": len(ruleset.rules), "new": new,
                         "unchanged": unchanged, **_problems(compiled)})


@admin_endpoint
async def validate_rules(request: Request, site: LiveSite, found: Services) -> Response:
    body = await read_body(request, MAX_FILE_BYTES)
    compiled = rules.check(body.decode("utf-8", "replace"), f"{site.config.id}.yaml")
    status = 200 if compiled.ruleset is not None else 422
    return JSONResponse({"ok": compiled.ruleset is not None, **_problems(compiled)},
                        status_code=status)


@admin_endpoint
async def list_versions(request: Request, site: LiveSite, found: Services) -> Response:
    versions = await found.store.versions.list(site.config.id)
    return JSONResponse({"versions": [v.as_json() for v in versions]})


@admin_endpoint
async def active_rules(request: Request, site: LiveSite, found: Services) -> Response:
    versions = found.store.versions
    version = await versions.active(site.config.id)
    source = await versions.source(site.config.id, version) if version else None
    if source is None:
        return error(404, "version", "no ruleset has been uploaded for this site")
    return PlainTextResponse(source, media_type="application/yaml; charset=utf-8",
                             headers={"X-Ondo-Version": version or ""})


@admin_endpoint
async def rollback(request: Request, site: LiveSite, found: Services) -> Response:
    body = await read_object(request, found.config.limits.api_body_bytes, 'a "version"')
    version = body.get("version")
    if not isinstance(version, str):
        return error(422, "version", "a version id from GET .../rules/versions")
    versions = found.store.versions
    source = await versions.source(site.config.id, version)
    if source is None or not await versions.activate(site.config.id, version):
        return error(404, "version", f"no version {version!r} for this site")
    site.load(version, source, found.matcher_class)
    return JSONResponse({"version": version})


@admin_endpoint
async def explain(request: Request, site: LiveSite, found: Services) -> Response:
    data = await read_object(request, found.config.limits.api_body_bytes,
                             "a sample `profile` or a `visitor` id", empty=True)
    trigger = data.get("trigger", "pageview")
    active = site.rules
    if isinstance(data.get("rules"), str):
        compiled = rules.check(data["rules"], "explain.yaml")
        if compiled.ruleset is None:
            return JSONResponse({"error": "the rule file has errors", "field": "rules",
                                 **_problems(compiled)}, status_code=422)
        active = ActiveRules.build(compiled.ruleset, type(site.rules.matcher) if site.rules
                                   else found.matcher_class, source_version(data["rules"]))
    if active is None:
        return error(404, "rules", "no active ruleset; send one in `rules`")
    now = found.clock.now()
    stored: dict[str, Any] = {}
    if isinstance(data.get("visitor"), str):
        stored = await found.store.profile(site.config.id, data["visitor"])
        profile = profile_view(active, site, stored, now)
    elif isinstance(data.get("profile"), dict):
        problem = _sample_problem(data["profile"])
        if problem is not None:
            return problem
        profile = {"now": now, **data["profile"]}
    else:
        return error(422, "profile", "give a sample `profile` or a live `visitor` id")
    try:
        report = rules.explain(active.ruleset, profile, trigger)
        matched = rules.evaluate(active.ruleset, profile, trigger)
    except ProfileError as exc:
        return error(422, f"profile.{exc.attribute}", str(exc))
    except rules.UnknownTriggerError:
        return error(422, "trigger", f"unknown trigger {trigger!r}")
    decision = decide(active, site, stored, profile, matched,
                      str(data.get("visitor", "sample")), "explain", now)
    outcome = {o.rule: o for o in decision.outcomes}
    out = []
    for item in report:
        entry = item.as_json()
        if item.rule in outcome:
            entry["delivery"] = outcome[item.rule].reason.value
            entry["lost_to"] = outcome[item.rule].winner
        out.append(entry)
    return JSONResponse({"version": active.version, "trigger": trigger, "rules": out})


def _sample_problem(sample: dict[str, Any]) -> JSONResponse | None:
    """A sample profile holds catalogue attributes of the right kinds, every
    one of them: a misspelt name would otherwise be silently ignored."""
    for name, value in sample.items():
        if name not in CATALOGUE:
            hint = did_you_mean(name, readable_names())
            return error(422, f"profile.{name}", f"unknown attribute {name!r}"
                         + (f"; {hint}" if hint else ""))
        try:
            check_value(name, value)
        except ProfileError as exc:
            return error(422, f"profile.{name}", str(exc))
    return None


def routes() -> list[Route]:
    base = "/v1/sites/{site}/rules"
    return [
        Route(base, put_rules, methods=["PUT"]),
        Route(f"{base}/validate", validate_rules, methods=["POST"]),
        Route(f"{base}/explain", explain, methods=["POST"]),
        Route(f"{base}/versions", list_versions, methods=["GET"]),
        Route(f"{base}/rollback", rollback, methods=["POST"]),
        Route(f"{base}/active", active_rules, methods=["GET"]),
    ]
