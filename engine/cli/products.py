"""``ondo products push FILE --site S``: upload the shop's product feed (JSON
lines, or CSV with a header) to a running engine; it replaces the previous
feed at once, or, with any bad line, changes nothing and the lines are printed
as ``FILE:LINE: field: message``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli import api


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("products", help="the shop's product feed")
    verbs = parser.add_subparsers(dest="products_verb", required=True, metavar="VERB")
    push = verbs.add_parser("push", help="upload a feed (.jsonl or .csv) and make it current")
    push.add_argument("file", type=Path)
    push.add_argument("--site", required=True)
    push.add_argument("--url", default=None, help="engine URL (or ONDO_URL)")
    push.add_argument("--token", default=None, help="admin token (or ONDO_TOKEN)")
    push.set_defaults(func=run_push)


def run_push(args: argparse.Namespace) -> int:
    kind = "text/csv" if args.file.suffix.lower() == ".csv" else "application/x-ndjson"
    data = api.call(args, "PUT", "/products", content=args.file.read_bytes(), content_type=kind)
    if data is None:
        return 1
    print(f"{args.file}: {data['products']:,} products, feed {data['version']}")
    return 0
