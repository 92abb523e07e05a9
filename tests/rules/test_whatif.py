"""The what-if siting check: every rule's outcome for a partial candidate, what is missing
for the unknown ones, and nothing stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.rules.models import CabinCompliance, Verdict, VerdictChange
from service.rules.schemas import SitingCheck
from service.rules.whatif import check
from tests.auth.factories import bearer, make_key, make_operator


def candidate_outcome(db: Session, code: str, body: dict[str, Any]) -> tuple[str, dict]:
    result = check(db, SitingCheck.model_validate(body))
    verdict = next(v for v in result["verdicts"] if v["rule_code"] == code)
    return verdict["outcome"], verdict


def counts(db: Session) -> tuple[int, ...]:
    return tuple(
        db.scalar(select(func.count()).select_from(model))
        for model in (Cabin, Verdict, VerdictChange, CabinCompliance)
    )


def test_siting_check_lists_every_rule_and_stores_nothing(
    db: Session, client: TestClient, engine_rules
):
    key = make_key(db, "operator", operator_id=make_operator(db))
    before = counts(db)
    response = client.post(
        "/v1/checks/siting",
        json={
            "location": {"lon": 2.3522, "lat": 48.8566, "declared_insee": "75056"},
            "venue": {"kind": "grande_surface"},
            "siting": {"placement": "indoor_open_area", "enclosure": "open_borne"},
        },
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rule_set_version"] == "2025.1"
    assert body["commune"]["insee"] == "75056"
    outcomes = {v["rule_code"]: v for v in body["verdicts"]}
    assert sorted(outcomes) == [f"SIT-0{i}" for i in range(1, 9)]
    assert outcomes["SIT-04"]["outcome"] == "fail"
    assert outcomes["SIT-08"]["outcome"] == "fail"
    assert outcomes["SIT-01"]["outcome"] == "fail"
    assert outcomes["SIT-05"]["outcome"] == "unknown"
    assert outcomes["SIT-05"]["missing"] == ["siting.directly_reachable_from_public_space"]
    assert body["compliance_status"] == "non_compliant"
    assert counts(db) == before


def test_an_empty_candidate_is_unknown_where_data_is_missing(db: Session, engine_rules):
    result = check(db, SitingCheck())
    outcomes = {v["rule_code"]: v["outcome"] for v in result["verdicts"]}
    assert outcomes["SIT-03"] == "unknown"
    assert outcomes["SIT-04"] == "unknown"
    assert outcomes["SIT-05"] == "unknown"
    assert result["commune"] is None


def test_siting_check_needs_an_operator_key(client: TestClient):
    assert client.post("/v1/checks/siting", json={}).status_code == 401
    # before the body is judged: no key and a bad body is still a 401
    bad = {"venue": {"kind": "supermarche"}}
    assert client.post("/v1/checks/siting", json=bad).status_code == 401


def test_siting_check_refuses_unknown_fields(db: Session, client: TestClient):
    key = make_key(db, "operator", operator_id=make_operator(db))
    response = client.post(
        "/v1/checks/siting", json={"venue": {"kind": "supermarche"}}, headers=bearer(key)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "venue.kind"


def test_siting_check_reads_a_fact_strictly_and_says_so(db: Session, client: TestClient):
    """A fact is true, false or null: "yes" or 1 is refused in words that do not claim, as a
    record's lax reading says, that yes/no and 1/0 are read too."""
    key = make_key(db, "operator", operator_id=make_operator(db))
    db.commit()  # releases the test's savepoint: each 422 rolls back only its own
    for value in ("yes", 1, "oui"):
        response = client.post(
            "/v1/checks/siting",
            json={"siting": {"sound_insulated": value}},
            headers=bearer(key),
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"field": "siting.sound_insulated", "reason": "must be true or false"}
        ]


def test_siting_check_can_judge_a_candidate_under_a_draft(
    db: Session, client: TestClient, engine_rules
):
    """A rule keeper tries a draft before publishing it: `rule_set=` names any version."""
    from service.audit.trail import CLI_ACTOR
    from service.rules import rulesets
    from service.rules.schemas import RuleChange, RuleSetCreate

    rulesets.derive(
        db,
        RuleSetCreate(
            version="2025.7",
            title="SIT-03 an error, SIT-04 off",
            rules={"SIT-03": RuleChange(severity="error"), "SIT-04": RuleChange(enabled=False)},
        ),
        actor=CLI_ACTOR,
    )
    key = make_key(db, "operator", operator_id=make_operator(db))
    db.commit()  # releases the test's savepoint: the 400 below rolls back only its own
    candidate = {"venue": {"kind": "entreprise"}}
    in_force = client.post("/v1/checks/siting", json=candidate, headers=bearer(key)).json()
    draft = client.post(
        "/v1/checks/siting?rule_set=2025.7", json=candidate, headers=bearer(key)
    ).json()
    assert in_force["rule_set_version"] == "2025.1"
    assert draft["rule_set_version"] == "2025.7"
    severity = {v["rule_code"]: v["severity"] for v in draft["verdicts"]}
    assert severity["SIT-03"] == "error" and "SIT-04" not in severity
    assert {v["rule_code"]: v["severity"] for v in in_force["verdicts"]}["SIT-03"] == "warning"

    unknown = client.post("/v1/checks/siting?rule_set=2031.1", json=candidate, headers=bearer(key))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"field": "rule_set", "reason": "no rule set 2031.1 (GET /v1/rule-sets lists them)"}
    ]
