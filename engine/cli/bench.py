"""``ondo bench``: the load test of bench/load.py (its flags pass through)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="load-test an engine against the references",
                                   add_help=False)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.load import main

    return main(args.args)
