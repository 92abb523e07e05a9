"""`registry operators create` prints the new operator's id; `registry clients create` prints
a key once, which then authenticates. These commit to the test database (unique SIRENs)."""

from __future__ import annotations

import argparse
import json
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.auth.keys import key_prefix
from service.auth.models import ApiClient, Operator
from service.auth.roles import ROLES
from service.auth.schemas import ClientCreate
from service.cli import build_parser, main
from service.settings import get_settings
from tests.audit.test_trail import empty_scratch_trail
from tests.auth.factories import bearer, valid_siren


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err


def test_operators_and_clients_from_the_command_line(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], app
) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys, "operators", "create", "--name", "Pharmacie CLI", "--siren", valid_siren()
    )
    assert code == 0
    operator_id = uuid.UUID(out)
    code, key, err = run(
        capsys, "clients", "create", "--role", "operator", "--operator", str(operator_id)
    )
    assert code == 0 and key.startswith("cr_") and "shown once" in err
    with engine.connect() as conn:
        assert conn.execute(select(Operator.name).where(Operator.id == operator_id)).scalar() == (
            "Pharmacie CLI"
        )
        stored = conn.execute(
            select(ApiClient.key_hash).where(ApiClient.operator_id == operator_id)
        ).scalar()
        assert stored and stored != key
    with TestClient(app) as client:
        assert client.get("/v1/cabins", headers=bearer(key)).status_code == 200

    code, listed, _ = run(capsys, "clients", "list", "--operator", str(operator_id))
    assert code == 0
    (line,) = listed.splitlines()
    client_id, role, state, *_ = line.split("\t")
    assert (role, state) == ("operator", "active")
    code, _, err = run(capsys, "clients", "revoke", client_id, "--reason", "device lost")
    assert code == 0 and "revoked" in err
    assert run(capsys, "clients", "list", "--operator", str(operator_id))[1].split("\t")[2] == (
        "revoked"
    )
    with TestClient(app) as client:
        assert client.get("/v1/cabins", headers=bearer(key)).status_code == 401
    code, _, err = run(capsys, "clients", "revoke", client_id)  # said "revoked" again
    assert code == 0 and err == f"client {client_id} was revoked already: nothing changed\n"
    missing = uuid.uuid4()
    code, _, err = run(capsys, "clients", "revoke", str(missing))
    assert code == 2
    assert err == f"error: Not found: No API client {missing}.\n"


def test_cli_refuses_an_invalid_siren(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "operators", "create", "--name", "X", "--siren", "123456789")
    assert code == 2 and out == "" and "siren" in err


def test_cli_regulator_needs_a_known_scope(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "clients", "create", "--role", "regulator", "--scope", "region:99")
    assert code == 2 and out == ""
    code, key, _ = run(capsys, "clients", "create", "--role", "regulator", "--scope", "national")
    assert code == 0 and key.startswith("cr_")


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--name", ""], "name"),
        (["--name", "   "], "name"),
        (["--name", "A", "--contact-email", "nope"], "contact_email"),
        (["--name", "A", "--contact-phone", "call me"], "contact_phone"),
    ],
)
def test_cli_refuses_an_operator_the_api_refuses(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], argv: list, field: str
) -> None:
    siren = valid_siren()
    code, out, err = run(capsys, "operators", "create", "--siren", siren, *argv)
    assert code == 2 and out == ""
    assert f"{field}: " in err
    with engine.connect() as conn:
        assert conn.execute(select(Operator.id).where(Operator.siren == siren)).first() is None


def test_cli_records_an_operator_contact(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "operators",
        "create",
        "--name",
        "  Pharmacie Contact ",
        "--siren",
        valid_siren(),
        "--contact-email",
        "contact@pharmacie-centre.fr",
        "--contact-phone",
        "+33 4 72 00 00 00",
    )
    assert code == 0, out
    with engine.connect() as conn:
        row = conn.execute(
            select(Operator.name, Operator.contact_email, Operator.contact_phone).where(
                Operator.id == uuid.UUID(out)
            )
        ).one()
    assert tuple(row) == ("Pharmacie Contact", "contact@pharmacie-centre.fr", "+33 4 72 00 00 00")


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--role", "admin", "--name", ""], "name"),
        (["--role", "admin", "--name", "   "], "name"),
        (["--role", "admin", "--name", "A\x00B"], "name"),
        (["--role", "regulator", "--scope", "everywhere", "--name", "   "], "scope"),
        (["--role", "admin", "--scope", "national"], "scope"),
        (["--role", "operator"], "operator_id"),
    ],
)
def test_cli_refuses_a_client_the_api_refuses(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], argv: list, field: str
) -> None:
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(ApiClient)).scalar()
    code, out, err = run(capsys, "clients", "create", *argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == "error: Validation failed: The client cannot be created."
    assert any(line.startswith(f"  {field}: ") for line in lines[1:]), err
    assert "Traceback" not in err
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ApiClient)).scalar() == before


def test_cli_strips_a_client_name_as_the_api_does(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, key, _ = run(capsys, "clients", "create", "--role", "admin", "--name", "  Console  ")
    assert code == 0
    with engine.connect() as conn:
        name = conn.execute(
            select(ApiClient.name).where(ApiClient.key_prefix == key_prefix(key))
        ).scalar()
    assert name == "Console"


def test_the_operator_and_client_commands_read_the_database_url_when_they_run(
    database_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In one process whose settings are already read, a command writes to the database
    DATABASE_URL names now (a scratch one here), not to the one read first."""
    get_settings()  # cached with the test database
    scratch, scratch_engine = empty_scratch_trail(database_url)
    monkeypatch.setenv("DATABASE_URL", scratch)
    siren = valid_siren()
    try:
        code, out, _ = run(capsys, "operators", "create", "--name", "Ailleurs", "--siren", siren)
        assert code == 0
        with scratch_engine.connect() as conn:
            assert conn.execute(select(Operator.id).where(Operator.siren == siren)).scalar() == (
                uuid.UUID(out)
            )
    finally:
        scratch_engine.dispose()
    with engine.connect() as conn:
        assert conn.execute(select(Operator.id).where(Operator.siren == siren)).first() is None


def test_the_roles_are_one_list_for_the_command_line_the_api_and_the_table(
    db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    """`registry clients create --role` offers the roles the admin API takes, and the table's
    CHECK constraint (SQL, written apart) allows the same ones."""
    checked = db.execute(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname = 'ck_api_client_role_known'"
        )
    ).scalar_one()
    assert tuple(re.findall(r"'(\w+)'", checked)) == ROLES == ("operator", "regulator", "admin")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["clients", "create", "--role", "auditor"])
    assert "choose from 'operator', 'regulator', 'admin'" in capsys.readouterr().err
    schema = json.dumps(TypeAdapter(ClientCreate).json_schema())
    assert sorted(re.findall(r'"role": \{"const": "(\w+)"', schema)) == sorted(ROLES)


def test_every_option_of_the_operator_and_client_commands_has_help() -> None:
    """`registry operators create --help` listed --name and --siren with no word about them."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for group, command in (("operators", "create"), ("clients", "create")):
        sub = next(
            a for a in commands.choices[group]._actions if isinstance(a, argparse._SubParsersAction)
        )
        for action in sub.choices[command]._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, (group, command, action.option_strings)
