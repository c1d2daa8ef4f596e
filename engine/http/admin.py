"""The admin HTTP API: a site's rule files (upload, validate, versions, their
text and diffs, rollback, the active file and its rules' states) and explain.

Calls carry ``Authorization: Bearer ADMIN_TOKEN`` (the site's token, stored
hashed) or a console session (engine/http/auth.py). Errors are JSON
``{"error", "field"}`` (and ``errors`` for rule problems, the same list
``ondo rules check`` prints); storage down -> 503.

Rule files are checked and compiled in a job's worker process, never on the
event loop (``in_worker``, engine/runtime/jobs.py), within the limits
``jobs_per_site`` (over: 429 with ``Retry-After``), ``job_seconds`` (422) and
``job_memory`` (413); a worker that dies answers 503, and a client that goes
away stops its job.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import rules
from engine.delivery.policy import Context, in_schedule, render_action
from engine.flow.pipeline import decide, profile_view
from engine.http.auth import authorize
from engine.http.bodies import RequestError, error, read_body, read_object
from engine.http.disconnect import ClientGone, while_there
from engine.http.services import Services, services
from engine.runtime.jobs import Busy, JobError, WorkerLost
from engine.runtime.site import Checked, LiveSite, check_rules, compile_version
from engine.store.base import StoreUnavailable, source_version
from rules.catalogue import CATALOGUE, readable_names
from rules.conditions import did_you_mean
from rules.errors import ProfileError
from rules.evaluate import check_value
from rules.limits import MAX_FILE_BYTES
from rules.template import render

Handler = Callable[[Request, LiveSite, Services], Awaitable[Response]]
T = TypeVar("T")
log = logging.getLogger("ondo.http")


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The site and its admin token checked once for every admin route; a
    storage outage is a 503 for all of them, a job over its limits the answer
    its error names."""

    async def endpoint(request: Request) -> Response:
        try:
            site = await authorize(request)
            return await handler(request, site, services(request))
        except StoreUnavailable:
            return error(503, "storage", "storage unavailable; try again")
        except JobError as exc:
            answer = error(exc.status, exc.field, str(exc),
                           **({"limit": exc.limit_name} if exc.limit_name else {}))
            if isinstance(exc, Busy):
                answer.headers["Retry-After"] = "1"
            return answer

    endpoint.__name__ = handler.__name__
    return endpoint


async def in_worker(request: Request, site: LiveSite, what: str, work: Callable[..., T],
                    *args: Any) -> T:
    """``work(*args)`` in a job's worker process (engine/runtime/jobs.py), one
    of the site's ``jobs_per_site``; ``what`` names its input in errors. The
    job is stopped when the client goes away. Raises JobError."""
    try:
        return await while_there(request, services(request).jobs.run(site.config.id, what,
                                                                     work, *args))
    except ClientGone:
        log.info("%s %s: the client went away; its job (%s) was stopped", request.method,
                 request.url.path, what)
        raise RequestError(400, "body", "the client went away before the answer") from None
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this request is cancelled
        raise WorkerLost(what) from None  # the engine is stopping (Jobs.close)


def _with_problems(fields: dict[str, Any], problems: bytes, status: int = 200) -> Response:
    """``fields`` and a check's problems (JSON already, written by the worker:
    20,000 warnings are not parsed and written again on the loop) as one object."""
    return Response(orjson.dumps(fields)[:-1] + b"," + problems[1:], status_code=status,
                    media_type="application/json")


class RuleFileRefused(RequestError):
    """422: the rule file has errors; the body lists them as ``ondo rules check``."""

    def __init__(self, what: str, problems: bytes) -> None:
        super().__init__(422, "body", f"{what} has errors")
        self.problems = problems

    def response(self) -> Response:  # type: ignore[override]
        return _with_problems({"error": self.message, "field": self.field}, self.problems,
                              self.status)


class RuleFile(NamedTuple):
    source: str
    version: str  # the id it is stored under
    checked: Checked


async def rule_file(request: Request, site: LiveSite, what: str = "the rule file", *,
                    keep: bool = False) -> RuleFile:
    """The rule file in the body, checked for this site in a job's worker
    (with ``keep``, its compiled ruleset brought back: ``checked.active``).
    RequestError 422 when it is not UTF-8, has errors (the same positioned
    problems as ``ondo rules check``) or names another site; JobError."""
    body = await read_body(request, MAX_FILE_BYTES)
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(422, "body", f"{what} must be UTF-8") from None
    checked = await in_worker(request, site, what, check_rules, source,
                              f"{site.config.id}.yaml", keep)
    if not checked.ok:
        raise RuleFileRefused(what, checked.problems)
    if checked.site != site.config.id:
        raise RequestError(422, "site", f"the file is for site {checked.site!r}, "
                           f"not {site.config.id!r}")
    return RuleFile(source, source_version(source), checked)


@admin_endpoint
async def put_rules(request: Request, site: LiveSite, found: Services) -> Response:
    source, version, checked = await rule_file(request, site, keep=True)
    versions = found.store.versions
    note = request.query_params.get("note", "")
    # The matcher is built here, on the loop: 0.2 s for 20,000 rules, once.
    active = checked.active(found.matcher_class, version, source) \
        if site.rules is None or site.rules.version != version else site.rules
    unchanged = await versions.active(site.config.id) == version
    new = await versions.save(site.config.id, version, source, note, checked.rules,
                              found.clock.now())
    asked = site.asked
    await versions.activate(site.config.id, version)
    # Not when another version was announced meanwhile: that one is newer.
    site.go_live(active, since=asked)
    # new: false is the same text as an earlier version, which keeps its note.
    return _with_problems({"version": version, "rules": checked.rules, "new": new,
                           "unchanged": unchanged}, checked.problems)


@admin_endpoint
async def validate_rules(request: Request, site: LiveSite, found: Services) -> Response:
    body = await read_body(request, MAX_FILE_BYTES)
    checked = await in_worker(request, site, "the rule file", check_rules,
                              body.decode("utf-8", "replace"), f"{site.config.id}.yaml")
    return _with_problems({"ok": checked.ok}, checked.problems, 200 if checked.ok else 422)


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
    if source is None:
        return error(404, "version", f"no version {version!r} for this site")
    # Compiled before it is activated: a refused job leaves every node as it was.
    active = site.rules if site.rules is not None and site.rules.version == version else \
        await compile_version(found.jobs, site, version, source, found.matcher_class,
                              counted=True)
    asked = site.asked
    if not await versions.activate(site.config.id, version):
        return error(404, "version", f"no version {version!r} for this site")
    site.go_live(active, since=asked)
    return JSONResponse({"version": version})


@admin_endpoint
async def explain(request: Request, site: LiveSite, found: Services) -> Response:
    data = await read_object(request, found.config.limits.api_body_bytes,
                             "a sample `profile` or a `visitor` id", empty=True)
    trigger = data.get("trigger", "pageview")
    active = site.rules
    if isinstance(data.get("rules"), str):
        checked = await in_worker(request, site, "the rule file", check_rules, data["rules"],
                                  "explain.yaml", True)
        if not checked.ok:
            return _with_problems({"error": "the rule file has errors", "field": "rules"},
                                  checked.problems, 422)
        active = checked.active(type(site.rules.matcher) if site.rules
                                else found.matcher_class, source_version(data["rules"]),
                                data["rules"])
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
