"""`registry schemas [--write]`: print or write the published schemas of `schemas/`."""

from __future__ import annotations

import argparse
import sys


def _schemas(args: argparse.Namespace) -> None:
    from service.cabins import published

    if args.write:
        for path in published.write_all():
            print(f"wrote {path}", file=sys.stderr)
    else:
        for name in published.SCHEMAS:
            sys.stdout.write(published.render(name))


def register(commands: argparse._SubParsersAction) -> None:
    schemas = commands.add_parser("schemas", help="the published schemas (schemas/*.json)")
    schemas.add_argument("--write", action="store_true", help="write them under schemas/")
    schemas.set_defaults(func=_schemas)
