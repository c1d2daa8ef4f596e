"""``ondo rules push|versions|rollback|explain --visitor``: the admin API from
the command line. URL and token come from flags or ONDO_URL / ONDO_TOKEN.

The client is the standard library's: the runtime install has no HTTP client
package, and these are a handful of JSON calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def register(verbs: Any, explain: argparse.ArgumentParser) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--site", required=True)
        parser.add_argument("--url", default=None, help="engine URL (or ONDO_URL)")
        parser.add_argument("--token", default=None, help="admin token (or ONDO_TOKEN)")

    push = verbs.add_parser("push", help="upload a rule file and make it active")
    push.add_argument("file", type=Path)
    push.add_argument("--note", default="")
    common(push)
    push.set_defaults(func=run_push)

    versions = verbs.add_parser("versions", help="list uploaded versions")
    common(versions)
    versions.set_defaults(func=run_versions)

    rollback = verbs.add_parser("rollback", help="make an earlier version active again")
    rollback.add_argument("version")
    common(rollback)
    rollback.set_defaults(func=run_rollback)

    from engine.cli import forecast

    forecast.register(verbs, common)

    explain.add_argument("--visitor", help="explain a live visitor (needs --site)")
    explain.add_argument("--site")
    explain.add_argument("--url", default=None)
    explain.add_argument("--token", default=None)
    explain.set_defaults(explain_visitor=run_explain_visitor)


def client(args: argparse.Namespace) -> tuple[str, dict[str, str]] | None:
    url = args.url or os.environ.get("ONDO_URL") or "http://127.0.0.1:8000"
    token = args.token or os.environ.get("ONDO_TOKEN")
    if not token:
        print("ondo: give the site's admin token with --token or ONDO_TOKEN", file=sys.stderr)
        return None
    return f"{url.rstrip('/')}/v1/sites/{args.site}", {"Authorization": f"Bearer {token}"}


def _request(method: str, url: str, headers: dict[str, str], body: bytes | None
             ) -> tuple[int, str, bytes]:
    """(status, content type, body) of one call; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.headers.get("content-type", ""), reply.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("content-type", ""), exc.read()


def call(args: argparse.Namespace, method: str, path: str, *, params: dict[str, str] | None
         = None, json_body: Any = None, content: bytes | None = None,
         accept: str = "application/json", content_type: str | None = None) -> Any:
    """One admin API call under /v1/sites/SITE: its JSON (or text), or None
    after printing what went wrong."""
    found = client(args)
    if found is None:
        return None
    base, headers = found
    headers = {**headers, "Accept": accept}
    url = base + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
    if json_body is not None:
        content = json.dumps(json_body).encode()
        headers = {**headers, "Content-Type": "application/json"}
    elif content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    try:
        status, kind, raw = _request(method, url, headers, content)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"ondo: cannot reach the engine at {base}: {reason}", file=sys.stderr)
        return None
    text = raw.decode("utf-8", "replace")
    data: Any = text
    if kind.startswith("application/json"):
        try:
            data = json.loads(text)
        except ValueError:
            data = text
    if status >= 400:
        print_error(args, status, data)
        return None
    return data


def print_error(args: argparse.Namespace, status: int, data: Any) -> None:
    if not isinstance(data, dict):
        print(f"ondo: {status}: {data}", file=sys.stderr)
        return
    for problem in data.get("errors", []):
        where = args.file if hasattr(args, "file") else problem["file"]
        print(f"{where}:{problem['line']}:{problem['column']}: error: {problem['message']}",
              file=sys.stderr)
        if problem.get("hint"):
            print(f"    hint: {problem['hint']}", file=sys.stderr)
    for problem in data.get("problems", []):  # a product feed's lines
        print(f"{args.file}:{problem['line']}: {problem['field']}: {problem['message']}",
              file=sys.stderr)
    if not data.get("errors") and not data.get("problems"):
        print(f"ondo: {status}: {data.get('field')}: {data.get('error')}", file=sys.stderr)


def run_push(args: argparse.Namespace) -> int:
    data = call(args, "PUT", "/rules", params={"note": args.note},
                 content=args.file.read_bytes())
    if data is None:
        return 1
    if data.get("unchanged"):
        print(f"{args.file}: unchanged: version {data['version']} ({data['rules']} rules) is "
              "already live; nothing new was stored")
    elif not data.get("new", True):
        print(f"{args.file}: live again as the earlier version {data['version']} "
              f"({data['rules']} rules), with its note")
    else:
        print(f"{args.file}: live as version {data['version']} ({data['rules']} rules)")
    return 0


def run_versions(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/rules/versions")
    if data is None:
        return 1
    for v in data["versions"]:
        mark = "*" if v["active"] else " "
        print(f"{mark} {v['version']}  {v['rules']:>5} rules  {v['note']}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/rules/rollback", json_body={"version": args.version})
    if data is None:
        return 1
    print(f"version {data['version']} is active")
    return 0


def run_explain_visitor(args: argparse.Namespace) -> int:
    if not args.site:
        print("ondo rules explain --visitor needs --site", file=sys.stderr)
        return 2
    data = call(args, "POST", "/rules/explain",
                 json_body={"visitor": args.visitor, "trigger": args.trigger})
    if data is None:
        return 1
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for item in data["rules"]:
        status = item.get("delivery") or ("no" if not item["matched"] else "")
        why = item["reason"] or (f"lost to {item['lost_to']}" if item.get("lost_to") else "")
        print(f"{status:>12}  {item['rule']}  {why}")
    return 0
