"""The ``ondo`` command. Each verb group lives in its own module and registers
its subcommands here; ``main`` only parses and dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules under engine.cli that define ``register(subparsers)``. Each
# subcommand sets ``func`` (args -> exit status) as its parser default.
VERB_MODULES = ("rules", "products", "serve", "stats", "simulate", "doctor", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ondo", description="Ondo real-time IF/DO rules engine")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for name in VERB_MODULES:
        importlib.import_module(f"engine.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
