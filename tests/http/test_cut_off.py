"""A request whose body is cut off (the client's connection closes before its end: a laptop
going offline mid-upload) is a 400 naming `body`, saying how much arrived and that nothing
was written, on every route that reads a body: not a 500 with a trace, not "could not be
read"."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.rules.models import RuleSet
from tests.asgi import cut_off
from tests.auth.fixtures import Callers


def _rule_set_body(version: str) -> bytes:
    return json.dumps({"version": version, "title": "Règles coupées en route"}).encode()


def test_a_rule_set_cut_off_mid_body_is_a_400_naming_the_body_and_writes_nothing(
    app: FastAPI, client: TestClient, db: Session, callers: Callers
) -> None:
    content = _rule_set_body("2099.7")
    status, problem = cut_off(app, "/v1/rule-sets", content, callers.admin)
    assert status == 400
    assert problem["errors"] == [
        {
            "field": "body",
            "reason": f"the connection closed after {len(content) // 2} bytes, before the end",
        }
    ]
    assert "nothing was written" in problem["detail"]
    assert db.scalar(select(func.count()).where(RuleSet.version == "2099.7")) == 0


@pytest.mark.parametrize("path", ["/v1/cabins", "/v1/checks/siting"])
def test_a_cabin_or_a_candidate_cut_off_mid_body_is_a_400_naming_the_body(
    app: FastAPI, client: TestClient, callers: Callers, path: str
) -> None:
    content = json.dumps({"venue_name": "Pharmacie du Port", "commune": "75056"}).encode()
    status, problem = cut_off(app, path, content, callers.operator)
    assert status == 400
    assert problem["errors"] == [
        {
            "field": "body",
            "reason": f"the connection closed after {len(content) // 2} bytes, before the end",
        }
    ]
