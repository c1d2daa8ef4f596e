"""``ondo rules push|versions|rollback|explain --visitor``: the admin API from
the command line. URL and token come from flags or ONDO_URL / ONDO_TOKEN."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx


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

    explain.add_argument("--visitor", help="explain a live visitor (needs --site)")
    explain.add_argument("--site")
    explain.add_argument("--url", default=None)
    explain.add_argument("--token", default=None)
    explain.set_defaults(explain_visitor=run_explain_visitor)


def _client(args: argparse.Namespace) -> tuple[str, dict[str, str]] | None:
    url = args.url or os.environ.get("ONDO_URL") or "http://127.0.0.1:8000"
    token = args.token or os.environ.get("ONDO_TOKEN")
    if not token:
        print("ondo: give the site's admin token with --token or ONDO_TOKEN", file=sys.stderr)
        return None
    return f"{url.rstrip('/')}/v1/sites/{args.site}", {"Authorization": f"Bearer {token}"}


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    client = _client(args)
    if client is None:
        return None
    base, headers = client
    try:
        reply = httpx.request(method, base + path, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        print(f"ondo: cannot reach the engine: {exc}", file=sys.stderr)
        return None
    data = reply.json() if reply.headers.get("content-type", "").startswith(
        "application/json") else reply.text
    if reply.status_code >= 400:
        if isinstance(data, dict):
            for problem in data.get("errors", []):
                where = f"{args.file if hasattr(args, 'file') else problem['file']}"
                print(f"{where}:{problem['line']}:{problem['column']}: error: "
                      f"{problem['message']}", file=sys.stderr)
                if problem.get("hint"):
                    print(f"    hint: {problem['hint']}", file=sys.stderr)
            if not data.get("errors"):
                print(f"ondo: {reply.status_code}: {data.get('field')}: {data.get('error')}",
                      file=sys.stderr)
        else:
            print(f"ondo: {reply.status_code}: {data}", file=sys.stderr)
        return None
    return data


def run_push(args: argparse.Namespace) -> int:
    data = _call(args, "PUT", "/rules", params={"note": args.note},
                 content=args.file.read_bytes())
    if data is None:
        return 1
    print(f"{args.file}: live as version {data['version']} ({data['rules']} rules)")
    return 0


def run_versions(args: argparse.Namespace) -> int:
    data = _call(args, "GET", "/rules/versions")
    if data is None:
        return 1
    for v in data["versions"]:
        mark = "*" if v["active"] else " "
        print(f"{mark} {v['version']}  {v['rules']:>5} rules  {v['note']}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/rules/rollback", json={"version": args.version})
    if data is None:
        return 1
    print(f"version {data['version']} is active")
    return 0


def run_explain_visitor(args: argparse.Namespace) -> int:
    if not args.site:
        print("ondo rules explain --visitor needs --site", file=sys.stderr)
        return 2
    data = _call(args, "POST", "/rules/explain",
                 json={"visitor": args.visitor, "trigger": args.trigger})
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
