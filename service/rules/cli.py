"""`registry rules …`: publish a rule-set file (idempotent; re-evaluates every cabin when a
new version comes into force), re-evaluate every cabin, recompute every cabin's compliance
from its verdicts, list the rule sets."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from service.cli import LONG_STATEMENT_TIMEOUT_MS, cli_engine, cli_session, positive_int
from service.cli_errors import fail


def publish_first_step() -> None:
    """The `setup_steps` entry: the rule set 2026.1, unless already published."""
    from service.rules.rulesets import FIRST_RULE_SET

    _publish_path(FIRST_RULE_SET)


def _publish_path(path: Path, *, retired_is_an_error: bool = False, dry_run: bool = False) -> int:
    import yaml
    from pydantic import ValidationError

    from service.audit.trail import CLI_ACTOR
    from service.errors import Problem, ValidationFailed, field_errors
    from service.rules import plan
    from service.rules.rulesets import NotARuleSetFile, publish_file, read_file

    try:
        spec = read_file(path)  # a file refused before the database is asked anything
        # the session closed, so rolled back, on any error
        with cli_session(LONG_STATEMENT_TIMEOUT_MS) as session:
            replaced = plan.in_force(session)
            replaced_version = replaced.version if replaced else None
            rule_set, report = publish_file(
                session, path, actor=CLI_ACTOR, spec=spec, dry_run=dry_run
            )
            version, status = rule_set.version, rule_set.status
            in_force = plan.in_force(session)
            in_force_version = in_force.version if in_force else None
            session.commit()  # a dry run has rolled its writes back
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except yaml.YAMLError as exc:
        print(f"error: {path} is not valid YAML: {exc}", file=sys.stderr)
        return 2
    except NotARuleSetFile as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        return fail(
            ValidationFailed(f"{path} is not a rule set.", errors=field_errors(exc, whole="(file)"))
        )
    except Problem as problem:
        return fail(problem)
    if report is None and status == "retired":
        print(
            f"rule set {version} was retired: {in_force_version} is in force; publish a new"
            " version to change the rules",
            file=sys.stderr,
        )
        return 1 if retired_is_an_error else 0
    if report is None:
        print(f"rule set {version} is already {status}", file=sys.stderr)
    elif dry_run:
        print(
            f"dry run: rule set {version} would be published"
            + (f", replacing {replaced_version}" if replaced_version else "")
            + "; nothing was written",
            file=sys.stderr,
        )
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print(f"rule set {version} published", file=sys.stderr)
        print(json.dumps(report.as_dict(), indent=1))
    return 0


def _publish(args: argparse.Namespace) -> int:
    return _publish_path(Path(args.file), retired_is_an_error=True, dry_run=args.dry_run)


def _reevaluate(args: argparse.Namespace) -> int:
    from service.cli import LONG_STATEMENT_TIMEOUT_MS
    from service.rules.parallel import reevaluate_all_parallel

    with cli_engine(LONG_STATEMENT_TIMEOUT_MS) as engine:
        report = reevaluate_all_parallel(engine, workers=args.workers)
    print(json.dumps(report.as_dict(), indent=1))
    return 0


def _recompute_compliance(args: argparse.Namespace) -> int:
    from service.rules.evaluator import recompute_compliance

    with cli_session(LONG_STATEMENT_TIMEOUT_MS) as session:
        changed = recompute_compliance(session)
        session.commit()
    print(f"compliance recomputed: {changed} cabins changed", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from service.rules.models import RuleSet

    with cli_session(LONG_STATEMENT_TIMEOUT_MS) as session:
        for rs in session.scalars(select(RuleSet).order_by(RuleSet.created_at)):
            print(f"{rs.version}\t{rs.status}\t{rs.valid_from or ''}\t{rs.title}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rules = commands.add_parser("rules", help="rule sets and re-evaluation").add_subparsers(
        dest="rules", required=True
    )
    publish = rules.add_parser("publish", help="create and publish a rule-set file")
    publish.add_argument("file", help="e.g. service/rules/rulesets/2026.1.yaml")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file and evaluate every cabin under it, print the report, write nothing",
    )
    publish.set_defaults(func=_publish)
    reevaluate = rules.add_parser(
        "reevaluate",
        help="re-evaluate every cabin, the rules dealt over several connections",
        description="Re-evaluate every cabin against the rule set in force. The rules are dealt"
        " over --workers connections (one core each). A rule that fails writes nothing; once"
        " all have succeeded, each connection commits its rules in turn, then the compliance of"
        " the cabins that changed is recomputed. Should a commit fail, the rules committed"
        " before it stay, their cabins' compliance is recomputed, and the command fails: run it"
        " again to write the rest.",
    )
    reevaluate.add_argument(
        "--workers",
        type=positive_int,
        default=min(os.cpu_count() or 1, 4),
        help="connections evaluating rules at once (default: the cores, at most 4)",
    )
    reevaluate.set_defaults(func=_reevaluate)
    rules.add_parser(
        "recompute-compliance",
        help="recompute every cabin's compliance status and accessibility label",
        description="Recompute every cabin's compliance status and accessibility label from its"
        " stored verdicts (a pass recomputes only the cabins whose verdicts it rewrote): run it"
        " once after an upgrade that changes how they are derived. Writes only what changed.",
    ).set_defaults(func=_recompute_compliance)
    rules.add_parser("list", help="the rule sets and their status").set_defaults(func=_list)
