"""`registry layers …`: load the real admin layers, import the official health-layer files,
generate the synthetic demo layers, list what is loaded."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import Connection

from service import timespans
from service.cli import LONG_STATEMENT_TIMEOUT_MS, cli_engine


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _reevaluate(conn: Connection) -> None:
    """A new layer vintage is current: every cabin is re-evaluated, on the caller's connection
    (so in its transaction), one pass per rule, and the cabins that changed are counted.
    Evaluations under way (which may have read the previous vintage) are waited for first,
    and new ones wait for this pass, as for a publication."""
    from sqlalchemy.orm import Session

    from service.rules.evaluator import reevaluate_all

    session = Session(bind=conn)
    report = reevaluate_all(session)
    session.flush()
    if report.rule_set_version is None:
        _progress("re-evaluation: no rule set in force, nothing to evaluate")
        return
    changed = ", ".join(
        f"{code} {r.changed}" for code, r in sorted(report.rules.items()) if r.changed
    )
    _progress(
        f"re-evaluation under {report.rule_set_version} in {report.seconds:.1f} s:"
        f" cabins changed per rule: {changed or 'none'}"
    )


def load_admin_step() -> None:
    """The `setup_steps` entry: load the admin layers unless already current."""
    from service.territories.admin import load_admin

    with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine:
        load_admin(engine, progress=_progress)


def _load(args: argparse.Namespace) -> int:
    from service.territories.admin import load_admin
    from service.territories.packages import PackageError

    try:
        with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine:
            result = load_admin(
                engine,
                force=args.force,
                progress=_progress,
                cache=Path(args.cache_dir) if args.cache_dir else None,
            )
            if not result.skipped:
                with engine.begin() as conn:
                    _reevaluate(conn)
    except PackageError as exc:
        _progress(f"error: {exc}")
        return 2
    return 0


def generate_synthetic_step(seed: int | None = None) -> None:
    """The demo `setup_steps` entry: the synthetic health layers, unless already current."""
    from service.territories.synthetic import DEFAULT_SEED, generate_synthetic

    with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine:
        generate_synthetic(engine, seed=seed or DEFAULT_SEED, progress=_progress)


def _generate(args: argparse.Namespace) -> int:
    from service.territories.synthetic import generate_synthetic

    if args.seed <= 0:
        _progress("error: --seed must be a positive integer")
        return 2
    with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine:
        result = generate_synthetic(engine, seed=args.seed, progress=_progress)
        if result.generated:
            with engine.begin() as conn:
                _reevaluate(conn)
    made = ", ".join(f"{n} {k}" for k, n in result.generated.items()) or "nothing new"
    _progress(f"synthetic layers (seed {result.seed}): {made} in {result.seconds:.1f} s")
    return 0


def _date(value: str) -> date:
    """An arrêté's date: a real date, not after today."""
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if day > timespans.today():
        raise argparse.ArgumentTypeError(f"{value} is in the future: an arrêté has been signed")
    return day


# Each kind of file: what it holds, and the options it reads (argparse offers them all to
# every kind, so another is refused); `layers import --help` is written from it.
IMPORT_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "zoning": ("CSV code_commune;zonage", ("region", "vintage", "reference", "date")),
    "finess": ("the FINESS extract (structureet + geolocalisation)", ("vintage",)),
    "cpts": ("CSV id_cpts;nom_cpts;communes", ("region", "vintage", "reference")),
    "zones-rouges": ("CSV siren_epci", ("vintage", "reference")),
}
_EVERY_OPTION = tuple(
    dict.fromkeys(o for _holds, options in IMPORT_KINDS.values() for o in options)
)
_REQUIRED = {"zoning": "region"}  # a zoning file is the arrêté of one ARS région


def _import_help() -> str:
    return " ".join(
        f"{kind}: {holds}, with "
        + ", ".join(f"--{o}" + (" (required)" if _REQUIRED.get(kind) == o else "") for o in options)
        + "."
        for kind, (holds, options) in IMPORT_KINDS.items()
    )


def _import(args: argparse.Namespace) -> int:
    from service.territories.importers.common import ImportArgumentError, ImportRejected
    from service.territories.importers.cpts import import_cpts
    from service.territories.importers.finess import import_finess
    from service.territories.importers.zones_rouges import import_zones_rouges
    from service.territories.importers.zoning import import_zoning

    _holds, takes = IMPORT_KINDS[args.what]
    for option in _EVERY_OPTION:
        if getattr(args, option) is not None and option not in takes:
            # an option ignored would let the steward believe the file was read with it
            _progress(
                f"error: {args.what} takes no --{option}; it takes"
                f" {', '.join('--' + name for name in takes)}"
            )
            return 2
    path = Path(args.file)
    if not path.is_file():
        _progress(f"error: {path} is not a file")
        return 2
    needed = _REQUIRED.get(args.what)
    if needed is not None and not getattr(args, needed):
        _progress(f"error: {args.what} needs --{needed} (the INSEE code of the ARS région)")
        return 2
    try:
        with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine, engine.begin() as conn:
            if args.what == "zoning":
                result = import_zoning(
                    conn,
                    path,
                    region=args.region,
                    reference=args.reference,
                    reference_date=args.date,
                    vintage=args.vintage,
                )
            elif args.what == "finess":
                result = import_finess(conn, path, vintage=args.vintage)
            elif args.what == "cpts":
                result = import_cpts(
                    conn, path, region=args.region, vintage=args.vintage, reference=args.reference
                )
            else:
                result = import_zones_rouges(
                    conn, path, vintage=args.vintage, reference=args.reference
                )
            if not result.unchanged:
                _reevaluate(conn)  # the new vintage and the verdicts it implies commit together
    except ImportArgumentError as exc:
        _progress(f"error: {exc}")
        return 2
    except OSError as exc:  # the file vanished or may not be read: nothing was written
        _progress(f"error: cannot read {path}: {exc.strerror or exc}")
        return 2
    except ImportRejected as exc:
        _progress(f"{path}: {len(exc.errors)} bad row(s), nothing was written")
        for error in exc.errors:
            print(f"row {error.row}\t{error.field}\t{error.reason}")
        return 1
    scope = f" (région {result.scope})" if result.scope else ""
    if result.unchanged:
        _progress(
            f"{result.kind}{scope}: vintage {result.vintage} is already current from the same"
            f" file with the same options (layer {result.layer_id}): nothing to do"
        )
        return 0
    skipped = (
        f", {result.skipped} skipped (outside the covered territory)" if result.skipped else ""
    )
    _progress(
        f"{result.kind}{scope}: vintage {result.vintage} is current,"
        f" {result.row_count} rows (layer {result.layer_id}){skipped}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    layers = subparsers.add_parser("layers", help="reference layers").add_subparsers(
        dest="layers", required=True
    )
    load = layers.add_parser("load", help="load the real administrative layers")
    load.add_argument("what", choices=["admin"])
    load.add_argument("--force", action="store_true", help="load even when already current")
    load.add_argument("--cache-dir", help="where the packages are cached (.local/cache/packages)")
    load.set_defaults(func=_load)

    imp = layers.add_parser(
        "import",
        help="import an official file as the new current vintage of a health layer",
        description="Import an official file as the new current vintage of a health layer,"
        " every row checked (nothing written when one is bad; exit status 1), then every"
        f" cabin re-evaluated in the same transaction. {_import_help()} Another option is"
        " refused.",
    )
    imp.add_argument("what", choices=list(IMPORT_KINDS))
    imp.add_argument("file")
    imp.add_argument("--region", help="INSEE région code (zoning: required; cpts: optional)")
    imp.add_argument("--vintage", help="vintage label (default: the arrêté date, else today)")
    imp.add_argument("--reference", help="reference of the arrêté or list")
    imp.add_argument("--date", type=_date, help="date of the arrêté (YYYY-MM-DD)")
    imp.set_defaults(func=_import)

    gen = layers.add_parser(
        "generate", help="generate the synthetic demo health layers (flagged synthetic)"
    )
    gen.add_argument("what", choices=["synthetic"])
    gen.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    gen.set_defaults(func=_generate)
