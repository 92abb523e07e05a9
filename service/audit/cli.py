"""`registry audit verify`: walk the hash chain and report every broken event."""

from __future__ import annotations

import argparse
import sys


def _verify(args: argparse.Namespace) -> int:
    from service.audit.trail import verify
    from service.cli import cli_session

    with cli_session() as session:
        result = verify(session)
    if result.ok:
        print(
            f"audit chain intact: {result.checked} events"
            + (
                f"; the last, {result.last_id}, has the hash {result.last_hash}"
                if result.last_id is not None
                else ""
            )
        )
        return 0
    first, *others = result.breaks
    print(
        f"audit chain broken at {first.problem} ({result.checked} events before it verified)",
        file=sys.stderr,
    )
    for other in others:
        print(f"  also broken: {other.problem}", file=sys.stderr)
    if result.broken_total > len(result.breaks):
        print(f"  and {result.broken_total - len(result.breaks)} more", file=sys.stderr)
    print(
        f"{result.broken_total} of {result.walked} events do not verify; the others chain as"
        " written",
        file=sys.stderr,
    )
    return 1


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit", required=True
    )
    audit.add_parser(
        "verify",
        help="check the hash chain of every event",
        description="Walk the audit trail in order: each event's hash must cover its content"
        " and chain to the event before it. Intact: prints the last event's id and hash (note"
        " them: a later walk that ends before them lost events). Else names every event that"
        " does not verify, what it records and why, and exits with status 1.",
    ).set_defaults(func=_verify)
