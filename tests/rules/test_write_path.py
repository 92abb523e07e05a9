"""The cabin write path evaluates the cabin in the same transaction: right after
`POST /v1/cabins`, its verdicts and compliance status are there."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.auth.factories import bearer, make_key, make_operator
from tests.cabins.factories import cabin_body


def test_a_created_cabin_has_its_verdicts_and_status(db: Session, client: TestClient):
    key = make_key(db, "operator", operator_id=make_operator(db))
    db.commit()
    created = client.post("/v1/cabins", json=cabin_body("RULES-1"), headers=bearer(key))
    assert created.status_code == 201, created.text
    cabin_id = created.json()["id"]
    compliance = client.get(f"/v1/cabins/{cabin_id}/compliance", headers=bearer(key))
    assert compliance.status_code == 200
    body = compliance.json()
    assert body["rule_set_version"] == "2026.1"
    assert len(body["verdicts"]) == 20
    assert body["compliance_status"] in ("compliant", "non_compliant", "incomplete")
    outcomes = {v["rule_code"]: v["outcome"] for v in body["verdicts"]}
    # a draft pharmacy, declared to the ARS without a reference: SIT-01 fails
    assert outcomes["SIT-01"] == "fail"
    assert outcomes["SIT-04"] == "pass"
    assert body["compliance_status"] == "non_compliant"
    assert "SIT-01" in body["failing_errors"]
