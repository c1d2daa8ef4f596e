"""The admin HTTP API (rules) and the server-to-server events endpoint.

Admin calls carry ``Authorization: Bearer ADMIN_TOKEN`` (the site's token,
stored hashed): missing or wrong -> 401, another site's token -> 403, unknown
site -> 404. Errors are JSON ``{"error", "field"}`` (and ``errors`` for rule
problems, the same list ``ondo rules check`` prints).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import rules
from engine.flow.pipeline import action_frames, decide, profile_view
from engine.flow.server_events import EventError, ServerEvent, parse_batch
from engine.flow.signing import SignatureError, verify
from engine.http.bodies import error, parse_json, read_body, read_object
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import Applied, StoredEvent, StoreUnavailable
from engine.store.versions import PUSH_CHANNEL, source_version
from rules.catalogue import CATALOGUE, readable_names
from rules.conditions import did_you_mean
from rules.errors import ProfileError
from rules.evaluate import check_value
from rules.limits import MAX_FILE_BYTES

TRIGGER_OF = {"purchase": "purchase", "member": "member", "coupon": "coupon"}


def _limit(request: Request) -> int:
    return int(request.app.state.config.limits.api_body_bytes)


def _site(request: Request) -> LiveSite | JSONResponse:
    site = request.app.state.sites.get(request.path_params["site"])
    if site is None:
        return error(404, "site", "unknown site")
    return site  # type: ignore[no-any-return]


def _admin(request: Request) -> LiveSite | JSONResponse:
    site = _site(request)
    if isinstance(site, JSONResponse):
        return site
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not token:
        return error(401, "authorization", "missing bearer token")
    if site.config.admin_token_ok(token):
        return site
    others = request.app.state.sites.values()
    if any(s is not site and s.config.admin_token_ok(token) for s in others):
        return error(403, "authorization", "this token belongs to another site")
    return error(401, "authorization", "wrong token")


Handler = Callable[[Request, LiveSite], Awaitable[Response]]


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The site and its admin token checked once for every admin route."""

    async def endpoint(request: Request) -> Response:
        site = _admin(request)
        if isinstance(site, JSONResponse):
            return site
        return await handler(request, site)

    endpoint.__name__ = handler.__name__
    return endpoint


def _problems(compiled: rules.Compiled) -> dict[str, Any]:
    return {"errors": [p.as_json() for p in compiled.errors],
            "warnings": [p.as_json() for p in compiled.warnings]}


@admin_endpoint
async def put_rules(request: Request, site: LiveSite) -> Response:
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
    state = request.app.state
    version = source_version(source)
    note = request.query_params.get("note", "")
    unchanged = await state.versions.active(site.config.id) == version
    new = await state.versions.save(site.config.id, version, source, note, len(ruleset.rules),
                                    state.clock.now())
    await state.versions.activate(site.config.id, version)
    await swap(request.app, site, version, source)
    # new: false is the same text as an earlier version, which keeps its note.
    return JSONResponse({"version": version, "rules": len(ruleset.rules), "new": new,
                         "unchanged": unchanged, **_problems(compiled)})


@admin_endpoint
async def validate_rules(request: Request, site: LiveSite) -> Response:
    body = await read_body(request, MAX_FILE_BYTES)
    compiled = rules.check(body.decode("utf-8", "replace"), f"{site.config.id}.yaml")
    status = 200 if compiled.ruleset is not None else 422
    return JSONResponse({"ok": compiled.ruleset is not None, **_problems(compiled)},
                        status_code=status)


@admin_endpoint
async def list_versions(request: Request, site: LiveSite) -> Response:
    versions = await request.app.state.versions.list(site.config.id)
    return JSONResponse({"versions": [v.as_json() for v in versions]})


@admin_endpoint
async def active_rules(request: Request, site: LiveSite) -> Response:
    versions = request.app.state.versions
    version = await versions.active(site.config.id)
    source = await versions.source(site.config.id, version) if version else None
    if source is None:
        return error(404, "version", "no ruleset has been uploaded for this site")
    return PlainTextResponse(source, media_type="application/yaml; charset=utf-8",
                             headers={"X-Ondo-Version": version or ""})


@admin_endpoint
async def rollback(request: Request, site: LiveSite) -> Response:
    version = (await read_object(request, _limit(request), 'a "version"')).get("version")
    if not isinstance(version, str):
        return error(422, "version", "a version id from GET .../rules/versions")
    state = request.app.state
    source = await state.versions.source(site.config.id, version)
    if source is None or not await state.versions.activate(site.config.id, version):
        return error(404, "version", f"no version {version!r} for this site")
    await swap(request.app, site, version, source)
    return JSONResponse({"version": version})


@admin_endpoint
async def explain(request: Request, site: LiveSite) -> Response:
    data = await read_object(request, _limit(request), "a sample `profile` or a `visitor` id",
                             empty=True)
    state = request.app.state
    trigger = data.get("trigger", "pageview")
    active = site.rules
    if isinstance(data.get("rules"), str):
        compiled = rules.check(data["rules"], "explain.yaml")
        if compiled.ruleset is None:
            return JSONResponse({"error": "the rule file has errors", "field": "rules",
                                 **_problems(compiled)}, status_code=422)
        active = ActiveRules.build(compiled.ruleset, type(site.rules.matcher) if site.rules
                                   else state.matcher_class, source_version(data["rules"]))
    if active is None:
        return error(404, "rules", "no active ruleset; send one in `rules`")
    now = state.clock.now()
    stored: dict[str, Any] = {}
    if isinstance(data.get("visitor"), str):
        stored = await state.store.profile(site.config.id, data["visitor"])
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


async def swap(app: Any, site: LiveSite, version: str, source: str) -> None:
    """Compile a version and make it the site's active ruleset on this node."""
    if site.rules is not None and site.rules.version == version:
        return
    ruleset = rules.load(source, name=f"{site.config.id}.yaml")
    site.swap(ActiveRules.build(ruleset, app.state.matcher_class, version))


async def post_events(request: Request) -> Response:
    site = _site(request)
    if isinstance(site, JSONResponse):
        return site
    body = await read_body(request, _limit(request))
    state = request.app.state
    try:
        verify(site.config.secret, request.headers.get("x-ondo-timestamp"),
               request.headers.get("x-ondo-signature"), body, time.time())
    except SignatureError as exc:
        state.metrics.errors["bad_signature"] += 1
        return error(401, exc.field, str(exc))
    try:
        events = parse_batch(parse_json(body))
    except EventError as exc:
        return error(422, exc.field, str(exc))
    return await apply_server_events(request.app, site, events)


async def apply_server_events(app: Any, site: LiveSite, events: list[ServerEvent]) -> Response:
    """Store verified server events in order, pushing what they trigger."""
    state = app.state
    now = state.clock.now()
    local = site.calendar.at(now)
    results: list[dict[str, str]] = []
    for event in events:
        stored = StoredEvent.at(event.id, event.type, event.digest, now, local, event.payload,
                                windows=site.rules is None or site.rules.reads_windows,
                                session_timeout=site.config.session_timeout)
        try:
            result = await state.store.apply(site.config.id, event.profile, stored)
        except StoreUnavailable:
            return error(503, "storage", "storage unavailable; nothing after "
                         f"{event.id!r} was stored, resend the batch", done=results)
        if result.status is Applied.CONFLICT:
            return error(409, "id", f"event {event.id!r} was already received with other "
                         "content", done=results)
        results.append({"id": event.id, "status": result.status.value})
        if result.status is Applied.NEW and site.rules is not None:
            await _push(app, site, event.profile, event.type, event.id, result.profile, now)
    return JSONResponse({"events": results})


async def _push(app: Any, site: LiveSite, profile_key: str, kind: str, event_id: str,
                stored: dict[str, Any], now: float) -> None:
    """Evaluate a server event for the visitor and push the resulting actions
    to every socket of that visitor or member, on whatever node holds it."""
    trigger = TRIGGER_OF.get(kind)
    active = site.rules
    if trigger is None or active is None:
        return
    profile = profile_view(active, site, stored, now)
    # The visitor's current page is re-evaluated with the new facts, together
    # with the rules that name this server event as their trigger.
    found = set(active.matcher.match(profile, trigger)) | set(
        active.matcher.match(profile, "pageview"))
    matched = sorted(found, key=lambda r: (-active.by_id[r].priority, active.by_id[r].index))
    if not matched:
        return
    decision = decide(active, site, stored, profile, matched, profile_key, event_id, now)
    frames = action_frames(decision)
    if frames:
        await app.state.store.publish(PUSH_CHANNEL, json.dumps(
            {"site": site.config.id, "profile": profile_key, "frames": frames},
            ensure_ascii=False))


def routes() -> list[Route]:
    base = "/v1/sites/{site}"
    return [
        Route(f"{base}/rules", put_rules, methods=["PUT"]),
        Route(f"{base}/rules/validate", validate_rules, methods=["POST"]),
        Route(f"{base}/rules/explain", explain, methods=["POST"]),
        Route(f"{base}/rules/versions", list_versions, methods=["GET"]),
        Route(f"{base}/rules/rollback", rollback, methods=["POST"]),
        Route(f"{base}/rules/active", active_rules, methods=["GET"]),
        Route(f"{base}/events", post_events, methods=["POST"]),
    ]


__all__ = ["apply_server_events", "routes", "swap"]
