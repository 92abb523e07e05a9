"""`registry layers …`: load the real admin layers, import the official health-layer files,
generate the synthetic demo layers, list what is loaded."""

from __future__ import annotations

import argparse
import sys


def _engine():  # type: ignore[no-untyped-def]
    from service.db import make_engine
    from service.settings import get_settings

    return make_engine(get_settings())


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_admin_step() -> None:
    """The `setup_steps` entry: load the admin layers unless already current."""
    from service.territories.admin import load_admin

    engine = _engine()
    try:
        load_admin(engine, progress=_progress)
    finally:
        engine.dispose()


def _load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from service.territories.admin import load_admin
    from service.territories.packages import PackageError

    engine = _engine()
    try:
        load_admin(
            engine,
            force=args.force,
            progress=_progress,
            cache=Path(args.cache_dir) if args.cache_dir else None,
        )
    except PackageError as exc:
        _progress(f"error: {exc}")
        return 2
    finally:
        engine.dispose()
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
