"""`registry audit verify`: walk the hash chain and report the first broken event."""

from __future__ import annotations

import argparse
import sys


def _verify(args: argparse.Namespace) -> int:
    from service.audit.trail import verify
    from service.cli import cli_session

    with cli_session() as session:
        result = verify(session)
    if result.ok:
        print(f"audit chain intact: {result.checked} events")
        return 0
    print(
        f"audit chain broken at event {result.broken_id}: {result.problem}"
        f" ({result.checked} events before it verified)",
        file=sys.stderr,
    )
    return 1


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit", required=True
    )
    audit.add_parser("verify", help="check the hash chain of every event").set_defaults(
        func=_verify
    )
