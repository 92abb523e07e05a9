"""`registry operators create`, `registry clients create|list|revoke`: the first operator and
keys, without the API. A key is printed once, on stdout; only its hash is stored."""

from __future__ import annotations

import argparse
import sys
import uuid

from service.auth.roles import ROLES
from service.cli import cli_session
from service.cli_errors import fail


def _create_operator(args: argparse.Namespace) -> int:
    from service.audit.trail import CLI_ACTOR
    from service.auth.service import create_operator
    from service.errors import Problem

    with cli_session() as session:
        try:
            operator = create_operator(
                session,
                CLI_ACTOR,
                name=args.name,
                siren=args.siren,
                contact_email=args.contact_email,
                contact_phone=args.contact_phone,
            )
        except Problem as problem:
            return fail(problem)
        session.commit()
        print(operator.id)
    return 0


def _create_client(args: argparse.Namespace) -> int:
    from service.audit.trail import CLI_ACTOR
    from service.auth.service import create_client
    from service.errors import Problem

    with cli_session() as session:
        try:
            created = create_client(
                session,
                CLI_ACTOR,
                role=args.role,
                name=args.name,
                operator_id=args.operator,
                scope=args.scope,
            )
        except Problem as problem:
            return fail(problem)
        session.commit()
        print(f"client {created.client.id} ({args.role}); key, shown once:", file=sys.stderr)
        print(created.key)
    return 0


def _list_clients(args: argparse.Namespace) -> int:
    from service.auth.service import clients

    with cli_session() as session:
        for c in clients(session, operator_id=args.operator):
            state = "active" if c.active else "revoked"
            detail = c.scope or (str(c.operator_id) if c.operator_id else "")
            print(f"{c.id}\t{c.role}\t{state}\t{c.name}\t{detail}")
    return 0


def _revoke_client(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from service.audit.trail import CLI_ACTOR
    from service.auth.models import ApiClient
    from service.auth.service import revoke_client
    from service.errors import Problem, ValidationFailed
    from service.patterns import unwanted_character

    # the API's check of `reason` (service.patterns.MULTI_LINE), said for the option
    unwanted = unwanted_character(args.reason or "", line_breaks=True)
    if unwanted or len(args.reason or "") > 500:
        return fail(
            ValidationFailed(
                "The reason cannot be recorded.",
                errors=[{"field": "--reason", "reason": unwanted or "at most 500 characters"}],
            )
        )
    with cli_session() as session:
        try:
            was_active = session.scalar(
                select(ApiClient.active).where(ApiClient.id == args.client_id)
            )
            revoke_client(session, CLI_ACTOR, args.client_id, (args.reason or "").strip() or None)
        except Problem as problem:
            return fail(problem)
        session.commit()
        if was_active:
            print(
                f"client {args.client_id} revoked: its key no longer authenticates", file=sys.stderr
            )
        else:
            print(f"client {args.client_id} was revoked already: nothing changed", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    operators = commands.add_parser("operators", help="cabin operators").add_subparsers(
        dest="operators", required=True
    )
    create = operators.add_parser("create", help="register an operator; prints its id")
    create.add_argument("--name", required=True, help="the organisation's name, on one line")
    create.add_argument(
        "--siren", required=True, help="its SIREN: 9 digits (spaces allowed), Luhn key checked"
    )
    create.add_argument("--contact-email", help="contact e-mail address")
    create.add_argument("--contact-phone", help="+<country code><number>, or 0X XX XX XX XX")
    create.set_defaults(func=_create_operator)

    clients = commands.add_parser("clients", help="API clients and keys").add_subparsers(
        dest="clients", required=True
    )
    client = clients.add_parser("create", help="create an API client; prints its key once")
    client.add_argument(
        "--role", required=True, choices=ROLES, help="what the key may do: " + ", ".join(ROLES)
    )
    client.add_argument("--operator", type=uuid.UUID, help="operator id (role operator)")
    client.add_argument("--scope", help="national or region:<code> (role regulator)")
    client.add_argument("--name", help="label of the client, on one line (default: its role)")
    client.set_defaults(func=_create_client)
    listing = clients.add_parser("list", help="list the clients (id, role, state, name, scope)")
    listing.add_argument("--operator", type=uuid.UUID, help="only this operator's clients")
    listing.set_defaults(func=_list_clients)
    revoke = clients.add_parser("revoke", help="revoke a client: its key stops working at once")
    revoke.add_argument("client_id", type=uuid.UUID)
    revoke.add_argument("--reason", help="why, for the audit trail")
    revoke.set_defaults(func=_revoke_client)
