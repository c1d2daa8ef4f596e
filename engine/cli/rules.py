"""``ondo rules …``: check and explain rule files locally (the API verbs that
talk to a running engine are registered by ``engine.cli.api``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import rules
from rules.errors import ProfileError, UnknownTriggerError
from rules.ruleset import TRIGGERS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rules", help="check, explain and manage rule files")
    verbs = parser.add_subparsers(dest="rules_verb", required=True, metavar="VERB")

    check = verbs.add_parser("check", help="validate rule files; exit 1 on any error")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--quiet", "-q", action="store_true", help="do not print warnings")
    check.set_defaults(func=run_check)

    explain = verbs.add_parser("explain", help="which rules match a sample profile, and why")
    explain.add_argument("file", metavar="FILE", nargs="?",
                         help="a rule file (or use --visitor with a running engine)")
    explain.add_argument("--profile", metavar="PROFILE.json",
                         help="a flat profile as JSON (see docs/attributes.md)")
    explain.add_argument("--trigger", default="pageview", choices=TRIGGERS)
    explain.add_argument("--json", action="store_true", help="print JSON")
    explain.set_defaults(func=run_explain)

    from engine.cli import api

    api.register(verbs, explain)


def run_check(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        compiled = rules.check_file(path)
        for problem in compiled.problems:
            if problem in compiled.warnings and args.quiet:
                continue
            print(problem.format())
        if compiled.ruleset is None:
            failed = True
        else:
            ruleset = compiled.ruleset
            print(f"{path}: ok: {len(ruleset.rules)} rules, {len(ruleset.predicates)} distinct "
                  f"conditions, version {ruleset.version}")
    return 1 if failed else 0


def run_explain(args: argparse.Namespace) -> int:
    if getattr(args, "visitor", None):
        handler = getattr(args, "explain_visitor", None)
        if handler is None:
            print("ondo rules explain --visitor needs the engine's API verbs", file=sys.stderr)
            return 2
        status: int = handler(args)
        return status
    if not args.file or not args.profile:
        print("ondo rules explain: give FILE and --profile PROFILE.json (or --visitor ID)",
              file=sys.stderr)
        return 2
    compiled = rules.check_file(args.file)
    if compiled.ruleset is None:
        for problem in compiled.errors:
            print(problem.format(), file=sys.stderr)
        return 1
    try:
        with open(args.profile, encoding="utf-8") as handle:
            profile = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"{args.profile}: cannot read the profile: {exc}", file=sys.stderr)
        return 1
    if not isinstance(profile, dict):
        print(f"{args.profile}: a profile is a JSON object", file=sys.stderr)
        return 1
    try:
        report = rules.explain(compiled.ruleset, profile, args.trigger)
    except (ProfileError, UnknownTriggerError) as exc:
        print(f"{args.profile}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.as_json() for r in report], ensure_ascii=False, indent=2))
        return 0
    for item in report:
        mark = "MATCH" if item.matched else "no   "
        why = f"  ({item.reason})" if item.reason else ""
        print(f"{mark} {item.rule} (line {item.line}){why}")
        for pred in item.predicates:
            actual = "missing" if pred.actual is None else json.dumps(pred.actual,
                                                                       ensure_ascii=False)
            print(f"        {'✓' if pred.value else '✗'} {pred.text}   [{actual}]")
    return 0
