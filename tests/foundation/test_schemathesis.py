"""Property-based run over every operation of the published `openapi.yaml`: no response is a
5xx and every response matches its documented schema. It grows with the API by itself."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.conftest import ApiKeys

ROOT = Path(__file__).resolve().parents[2]

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, app: FastAPI, client: TestClient, api_keys: ApiKeys
) -> None:
    # `client` binds the app's session to the test's transaction, rolled back afterwards.
    case.operation.schema.app = app  # the ASGI transport, in process
    case.call_and_validate(app=app, headers=api_keys.for_case(case))
