"""The reason an admin gives for revoking a key goes on the audit trail: text without control
characters (lines separated by LF), as a transition's reason, from the API and the CLI alike;
a refused reason revokes nothing."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.audit.trail import CLI_ACTOR
from service.auth.models import ApiClient
from service.auth.service import create_client
from service.cli import main
from tests.auth.fixtures import Callers


def test_a_revoke_reason_with_a_control_character_is_400_and_revokes_nothing(
    client: TestClient, callers: Callers, db: Session
) -> None:
    target = create_client(db, CLI_ACTOR, role="admin").client.id
    db.commit()  # releases the test's savepoint: the 400 below rolls back only its own
    response = client.delete(
        f"/v1/clients/{target}", params={"reason": "key\u0007leaked"}, headers=callers.admin
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "reason", "reason": "contains the control character U+0007 at position 4"}
    ]
    db.expire_all()
    assert db.get(ApiClient, target).active is True
    # lines are allowed, as in a transition's reason
    ok = client.delete(
        f"/v1/clients/{target}", params={"reason": "key leaked\nby e-mail"}, headers=callers.admin
    )
    assert ok.status_code == 200 and ok.json()["active"] is False
    reason = db.scalar(
        select(AuditEvent.reason).where(
            AuditEvent.target_id == str(target), AuditEvent.action == "client.revoke"
        )
    )
    assert reason == "key leaked\nby e-mail"


def test_registry_clients_revoke_refuses_a_control_character_in_the_reason(
    database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "create", "--role", "admin", "--name", "reason test"]) == 0
    capsys.readouterr()
    with engine.connect() as conn:
        client_id = conn.scalar(
            text(
                "SELECT id FROM api_client WHERE name = 'reason test'"
                " ORDER BY created_at DESC LIMIT 1"
            )
        )
    assert isinstance(client_id, uuid.UUID)
    status = main(["clients", "revoke", str(client_id), "--reason", "lost\tkey"])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: Validation failed: The reason cannot be recorded.",
        "  --reason: contains the control character U+0009 (tab) at position 5",
    ]
    with engine.connect() as conn:
        active = conn.scalar(
            text("SELECT active FROM api_client WHERE id = :id"), {"id": client_id}
        )
    assert active is True
