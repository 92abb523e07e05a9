"""The `registry` command: database, local cluster, serving, the published contract, and each
domain's own commands (reference layers, operators and clients, the audit trail, rule sets,
demo data, the cabin import)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # the commands import the service's modules late, to start fast
    from pydantic import ValidationError
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent

Handler = Callable[[argparse.Namespace], int | None]


LONG_STATEMENT_TIMEOUT_MS = 600_000
"""The statement timeout of the commands that load a whole layer or pass over every cabin."""


@contextmanager
def cli_engine(statement_timeout_ms: int | None = None) -> Iterator[Engine]:
    """The database engine of a `registry` command, disposed when the command is done. The
    settings are read from the environment now, not the cached ones (the test set-up sets
    DATABASE_URL late); `statement_timeout_ms` replaces `DB_STATEMENT_TIMEOUT_MS`, which is
    meant for requests, for the commands that need longer (`LONG_STATEMENT_TIMEOUT_MS`)."""
    from service.db import make_engine
    from service.settings import Settings

    settings = Settings()
    if statement_timeout_ms is not None:
        settings = settings.model_copy(update={"db_statement_timeout_ms": statement_timeout_ms})
    engine = make_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def cli_session(statement_timeout_ms: int | None = None) -> Iterator[Session]:
    """A command's session on `cli_engine`, as a request's is made (no autoflush, objects kept
    after commit), rolled back unless committed."""
    from service.db import make_sessionmaker

    with cli_engine(statement_timeout_ms) as engine, make_sessionmaker(engine)() as session:
        yield session


def alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    from service.settings import get_settings

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
    return config


def _db_upgrade(args: argparse.Namespace) -> None:
    from alembic import command

    command.upgrade(alembic_config(), args.revision)


def _db_downgrade(args: argparse.Namespace) -> None:
    from alembic import command

    command.downgrade(alembic_config(), args.revision)


def _db_check(args: argparse.Namespace) -> None:
    from alembic import command

    command.check(alembic_config())


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (workers, connections)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def serve_workers(given: int | None) -> int:
    """`--workers`, else `WEB_CONCURRENCY` (as uvicorn reads it), else 1."""
    if given is not None:
        return given
    configured = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not configured:
        return 1
    try:
        return positive_int(configured)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"WEB_CONCURRENCY: {exc}") from None


def _serve(args: argparse.Namespace) -> int | None:
    import uvicorn

    from service.settings import get_settings

    try:
        workers = serve_workers(args.workers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = get_settings()
    uvicorn.run(
        # An import string, so that each worker process builds its own app (engine pools,
        # public cache and its LISTEN connection, rate-limit buckets) from the environment.
        "service.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        access_log=False,  # the request log middleware writes one line per request
        workers=workers,
    )
    return None


def openapi_document() -> dict:
    from service.app import create_app
    from service.settings import Settings

    return create_app(Settings()).openapi()


def render_openapi() -> str:
    return yaml.safe_dump(openapi_document(), sort_keys=False, allow_unicode=True, width=100)


def _openapi(args: argparse.Namespace) -> None:
    text = render_openapi()
    if args.write:
        (ROOT / "openapi.yaml").write_text(text)
    else:
        sys.stdout.write(text)


def _localdb(args: argparse.Namespace) -> int | None:
    from service.localdb import project_cluster

    cluster = project_cluster()
    if args.action == "start":
        cluster.ensure_started()
        print(cluster.url(), file=sys.stderr)
    elif args.action == "stop":
        print("stopped" if cluster.stop() else "not running", file=sys.stderr)
    elif args.action == "url":
        print(cluster.url(args.database))
    elif args.action == "status":
        running = cluster.is_running()
        print("running" if running else "stopped")
        return 0 if running else 1
    return None


def setup_steps(include_demo: bool = True) -> list[tuple[str, Callable[[], object]]]:
    """What `make run` loads after migrating, in order; each step is idempotent."""
    steps: list[tuple[str, Callable[[], object]]] = []
    from service.territories.cli import generate_synthetic_step, load_admin_step

    steps.append(("reference layers: communes, départements, régions, EPCI", load_admin_step))
    from service.rules.cli import publish_first_step

    steps.append(("rule set 2026.1 (published unless a later set is in force)", publish_first_step))
    if include_demo:
        steps.append(("synthetic health layers (demo)", generate_synthetic_step))
        from service.cabins.demo import load_demo_step

        steps.append(("demo operator, keys and cabins", load_demo_step))
    return steps


def _setup_data(args: argparse.Namespace) -> None:
    for title, step in setup_steps(include_demo=not args.no_demo):
        print(f"==> {title}", file=sys.stderr)
        step()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser("upgrade", help="migrate to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to a revision")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("check", help="fail when the models drift from the migrations").set_defaults(
        func=_db_check
    )

    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=positive_int,
        help="worker processes (default: $WEB_CONCURRENCY, else 1); each keeps its own"
        " database pools, public cache and rate-limit buckets",
    )
    serve.set_defaults(func=_serve)

    spec = commands.add_parser("openapi", help="print the OpenAPI document (YAML)")
    spec.add_argument("--write", action="store_true", help="write openapi.yaml instead")
    spec.set_defaults(func=_openapi)

    local = commands.add_parser("localdb", help="the project-local PostgreSQL cluster")
    local.add_argument("action", choices=["start", "stop", "url", "status"])
    local.add_argument("--database", default="registry")
    local.set_defaults(func=_localdb)

    setup = commands.add_parser(
        "setup-data", help="load the reference layers, rule sets and demo data (idempotent)"
    )
    setup.add_argument("--no-demo", action="store_true", help="skip the demo operator and cabins")
    setup.set_defaults(func=_setup_data)

    for register in _domain_commands():
        register(commands)
    return parser


# Each domain with commands of its own has a `cli` module exposing `register(subparsers)`.
DOMAIN_CLI_MODULES: list[str] = [
    "service.territories.cli",
    "service.auth.cli",
    "service.audit.cli",
    "service.cabins.cli",
    "service.rules.cli",
    "service.cabins.imports.cli",
]


def _domain_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    return [importlib.import_module(name).register for name in DOMAIN_CLI_MODULES]


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("REGISTRY_ROOT", str(Path.cwd()))
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except BrokenPipeError:
        # the reader of the output is gone (`registry clients list | head -1`): stop quietly,
        # and let no flush at exit write to the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        from psycopg.errors import UndefinedTable
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from service.settings import Settings

        if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
            # a setting of the environment the command cannot read (`PORT=abc`): named, as
            # WEB_CONCURRENCY is, never a traceback
            for line in _invalid_settings(exc):
                print(f"error: {line}", file=sys.stderr)
            return 2
        if isinstance(exc, ProgrammingError) and isinstance(exc.orig, UndefinedTable):
            # a database the migrations never ran on (a new DATABASE_URL, a typo in its name)
            table = getattr(exc.orig.diag, "message_primary", None) or str(exc.orig)
            name = table.removeprefix("relation ").removesuffix(" does not exist")
            print(
                f"error: the database has no table {name}: it is not migrated; run"
                " `registry db upgrade` first",
                file=sys.stderr,
            )
            return 1
        if not isinstance(exc, OperationalError):
            raise
        print(f"error: {_stopped_by_database(exc)}", file=sys.stderr)
        return 1
    return int(result or 0)


def _invalid_settings(exc: ValidationError) -> list[str]:
    """Each setting the environment holds and `Settings` refuses, by its variable's name and in
    the words of the API's refusals (`PORT: must be a whole number, e.g. 2`)."""
    from service.errors import pydantic_reason

    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(p) for p in error["loc"]).upper()
        lines.append(f"{name}: {pydantic_reason(error)} (given {error['input']!r})")
    return lines


def _stopped_by_database(exc: Exception) -> str:
    """What stopped a command in the database, in the words the API's answers use, and what to
    do (nothing of the command's transaction was written)."""
    from service.errors import (
        first_line,
        rolled_back_by_conflict,
        stopped_at_time_limit,
        waited_for_lock,
    )

    reason = first_line(exc)
    if waited_for_lock(exc):
        return (
            "the command waited as long as it may for a long write to end (a rule set being"
            " put in force, every cabin being re-evaluated, a large import); nothing was"
            f" written; run it again later: {reason}"
        )
    if stopped_at_time_limit(exc):
        return f"a statement ran past the command's time limit; nothing was written: {reason}"
    if rolled_back_by_conflict(exc):
        return (
            "the command met a concurrent write to the same data and was undone; nothing was"
            f" written; run it again: {reason}"
        )
    # the database unreachable, or the connection lost mid-command: said, not a traceback
    return f"the database is unavailable or the connection was lost: {reason}"


if __name__ == "__main__":
    raise SystemExit(main())
