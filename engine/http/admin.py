"""The admin HTTP API: a site's rule files (upload, validate, versions, their
text and diffs, rollback, the active file and its rules' states) and explain.

Calls carry ``Authorization: Bearer ADMIN_TOKEN`` (the site's token, stored
hashed) or a console session (engine/http/auth.py). Errors are JSON
``{"error", "field"}`` (and ``errors`` for rule problems, the same list
``ondo rules check`` prints); storage down -> 503.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import rules
from engine.delivery.policy import Context, in_schedule, render_action
from engine.flow.pipeline import decide, profile_view
from engine.http.auth import authorize
from engine.http.bodies import RequestError, error, read_body, read_object
from engine.http.services import Services, services
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import StoreUnavailable, source_version
from rules.catalogue import CATALOGUE, readable_names
from rules.conditions import did_you_mean
from rules.errors import ProfileError
from rules.evaluate import check_value
from rules.limits import MAX_FILE_BYTES
from rules.ruleset import Ruleset
from rules.template import render

Handler = Callable[[Request, LiveSite, Services], Awaitable[Response]]


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The site and its admin token checked once for every admin route; a
    storage outage is a 503 for all of them."""

    async def endpoint(request: Request) -> Response:
        try:
            site = await authorize(request)
            return await handler(request, site, services(request))
        except StoreUnavailable:
            return error(503, "storage", "storage unavailable; try again")

    endpoint.__name__ = handler.__name__
    return endpoint


def _problems(compiled: rules.Compiled) -> dict[str, Any]:
    return {"errors": [p.as_json() for p in compiled.errors],
            "warnings": [p.as_json() for p in compiled.warnings]}


async def rule_file(request: Request, site: LiveSite, what: str = "the rule file"
                    ) -> tuple[str, Ruleset, rules.Compiled]:
    """The rule file in the body, compiled for this site.
    RequestError 422 when it is not UTF-8, has errors (the same positioned
    problems as ``ondo rules check``) or names another site."""
    body = await read_body(request, MAX_FILE_BYTES)
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(422, "body", f"{what} must be UTF-8") from None
    compiled = rules.check(source, f"{site.config.id}.yaml")
    if compiled.ruleset is None:
        raise RequestError(422, "body", f"{what} has errors", **_problems(compiled))
    ruleset = compiled.ruleset
    if ruleset.site != site.config.id:
        raise RequestError(422, "site", f"the file is for site {ruleset.site!r}, "
                           f"not {site.config.id!r}")
    return source, ruleset, compiled


@admin_endpoint
async def put_rules(request: Request, site: LiveSite, found: Services) -> Response:
    source, ruleset, compiled = await rule_file(request, site)
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
    if source is None and site.rules is not None and site.rules.source:
        # Nothing uploaded yet: the rule file the engine's config names.
        version, source = site.rules.version, site.rules.source
    if source is None:
        return error(404, "version", "no ruleset is active for this site")
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
    ctx = Context("preview", "preview", now, site.tz(active), 1, bool(profile.get("is_member")),
                  site.config.login_url)
    out = []
    for item in report:
        entry = item.as_json()
        if item.rule in outcome:
            entry["delivery"] = outcome[item.rule].reason.value
            entry["lost_to"] = outcome[item.rule].winner
        # The action as this profile would receive it, for the console's preview.
        action = render_action(active.by_id[item.rule], profile, ctx)
        entry["preview"] = {"rule": action.rule, "widget": action.widget,
                            "content": action.content, "arming": action.arming}
        out.append(entry)
    return JSONResponse({"version": active.version, "trigger": trigger, "rules": out})


@admin_endpoint
async def rule_states(request: Request, site: LiveSite, found: Services) -> Response:
    """Each rule of the active version: on, off (``enabled: false``), or off
    schedule right now."""
    active = site.rules
    if active is None:
        return error(404, "version", "no ruleset is active for this site")
    now = found.clock.now()
    tz = site.tz(active)
    out = []
    for rule in active.ruleset.rules:
        state = "off" if not rule.enabled else (
            "on" if in_schedule(rule.schedule, now, tz) else "off_schedule")
        title = rule.action.content.get("title") or rule.action.content.get("text") or ()
        out.append({"rule": rule.id, "line": rule.line, "state": state,
                    "widget": rule.action.widget, "title": render(title, {}),
                    "priority": rule.priority, "holdout": rule.holdout,
                    "triggers": list(rule.triggers)})
    return JSONResponse({"version": active.version, "timezone": tz.key, "now": now,
                         "rules": out})


@admin_endpoint
async def version_source(request: Request, site: LiveSite, found: Services) -> Response:
    version = request.path_params["version"]
    source = await found.store.versions.source(site.config.id, version)
    if source is None:
        return error(404, "version", f"no version {version!r} for this site")
    return PlainTextResponse(source, media_type="application/yaml; charset=utf-8",
                             headers={"X-Ondo-Version": version})


@admin_endpoint
async def diff_versions(request: Request, site: LiveSite, found: Services) -> Response:
    """Two versions line by line, whole files: `` `` kept, ``-`` only in
    ``from``, ``+`` only in ``to``, with each side's line numbers."""
    sources = []
    for name in ("from", "to"):
        version = request.query_params.get(name)
        if not version:
            return error(422, name, f"a version id in `{name}`")
        source = await found.store.versions.source(site.config.id, version)
        if source is None:
            return error(404, name, f"no version {version!r} for this site")
        sources.append(source.splitlines())
    return JSONResponse({"from": request.query_params["from"],
                         "to": request.query_params["to"], **line_diff(*sources)})


def line_diff(old: list[str], new: list[str]) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            lines += [{"op": " ", "old": a1 + i + 1, "new": b1 + i + 1, "text": old[a1 + i]}
                      for i in range(a2 - a1)]
            continue
        lines += [{"op": "-", "old": i + 1, "new": None, "text": old[i]} for i in range(a1, a2)]
        lines += [{"op": "+", "old": None, "new": i + 1, "text": new[i]} for i in range(b1, b2)]
    return {"added": sum(line["op"] == "+" for line in lines),
            "removed": sum(line["op"] == "-" for line in lines), "lines": lines}


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
        Route(f"{base}/states", rule_states, methods=["GET"]),
        Route(f"{base}/versions/{{version}}", version_source, methods=["GET"]),
        Route(f"{base}/diff", diff_versions, methods=["GET"]),
    ]
