"""`registry demo load` (the demo operator, keys and cabins; idempotent) and
`registry cabins-import FILE --operator ID` (a bulk import from the command line)."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from service.cabins.vocabulary import IMPORT_MODES


def _demo_load(args: argparse.Namespace) -> int:
    from service.cabins.demo import load_demo_step

    load_demo_step()
    return 0


def _import(args: argparse.Namespace) -> int:
    import json

    from service.audit.trail import CLI_ACTOR
    from service.auth.models import Operator
    from service.cabins.importer import ImportOptions, run_import
    from service.cabins.imports.parse import COMMAND_LINE, charset_codec, to_utf8
    from service.cli import LONG_STATEMENT_TIMEOUT_MS, cli_session
    from service.cli_errors import fail
    from service.errors import BadRequest, NotFound, Problem

    path = Path(args.file)
    kind = "ndjson" if path.suffix in (".ndjson", ".jsonl") else "csv"
    try:
        body = path.read_bytes()
    except OSError as exc:
        return fail(
            BadRequest(
                f"Cannot read {path}; nothing was imported.",
                errors=[{"field": "file", "reason": exc.strerror or str(exc)}],
            )
        )
    try:
        # The file in UTF-8, read as the API reads an upload with `charset=` on its
        # Content-Type: the same charsets, byte-order marks and refusals, naming --charset.
        charset = args.charset
        codec = charset_codec(charset, kind, COMMAND_LINE) if charset is not None else None
        body = to_utf8(body, codec, kind, COMMAND_LINE)
    except Problem as problem:
        return fail(problem)
    with cli_session(LONG_STATEMENT_TIMEOUT_MS) as session:
        if session.get(Operator, args.operator) is None:
            return fail(
                NotFound(
                    f"No operator {args.operator}; nothing was imported.",
                    errors=[{"field": "operator", "reason": "no operator with this id"}],
                )
            )
        try:
            report = run_import(
                session,
                operator_id=args.operator,
                actor=CLI_ACTOR,
                body=body,
                kind=kind,
                # still not UTF-8: the refusal says to give --charset
                options=ImportOptions(mode=args.mode, dry_run=args.dry_run, declared=COMMAND_LINE),
            )
        except Problem as problem:
            return fail(problem)
        session.commit()
    summary = {
        "state": report.state,
        "rows": report.rows_total,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": report.errors,
        "warnings": report.warnings,
        "seconds": report.timings,
    }
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0 if report.state == "succeeded" else 1


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="demo data").add_subparsers(dest="demo", required=True)
    demo.add_parser(
        "load", help="the demo operator, keys (printed once) and cabins (idempotent)"
    ).set_defaults(func=_demo_load)

    imp = commands.add_parser("cabins-import", help="import cabins from a CSV or NDJSON file")
    imp.add_argument("file", help="a .csv, or a .ndjson/.jsonl file")
    imp.add_argument("--operator", type=uuid.UUID, required=True, help="the owner's id")
    imp.add_argument("--mode", choices=IMPORT_MODES, default="atomic")
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument(
        "--charset",
        help="the file's character set, as the API's Content-Type charset= (UTF-8 when not"
        " given; windows-1252 for Excel's plain CSV, iso-8859-1, iso-8859-15, utf-16,"
        " us-ascii); a byte-order mark wins over it",
    )
    imp.set_defaults(func=_import)
