"""``ondo doctor``: what this installation runs (matcher implementation,
versions), so an operator can see a slow path before users do."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from typing import Any

from engine.matcher import implementation, matcher_class, pure_requested


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("doctor", help="show what this installation runs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pure = pure_requested()
    try:
        cls = matcher_class(pure)
    except ImportError as exc:
        print(f"matcher: MISSING compiled extension ({exc}); reinstall with `pip install -e .`")
        return 1
    note = " (forced by ONDO_PUREPYTHON)" if pure else ""
    print(f"matcher: {implementation(cls)}{note}")
    print(f"python: {platform.python_version()} ({sys.executable})")
    try:
        print(f"cython: {metadata.version('Cython')}")
    except metadata.PackageNotFoundError:
        print("cython: not installed (only needed to build)")
    return 0
