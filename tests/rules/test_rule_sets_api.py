"""The rule-set API: public reads that explain each rule, admin creation of a new version
with validated parameters, publication with its report; and a cabin's compliance access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.audit.trail import CLI_ACTOR, verify
from service.errors import Conflict
from service.rules import rulesets
from service.rules.evaluator import evaluate_cabins
from service.rules.models import Verdict
from service.rules.schemas import RuleSetCreate
from tests.auth.factories import bearer, make_key, make_operator
from tests.rules.factories import insert_cabin


def test_rule_set_2026_1_is_published_with_twenty_rules(client: TestClient):
    listing = client.get("/v1/rule-sets").json()
    assert "2026.1" in [item["version"] for item in listing["items"]]
    body = client.get("/v1/rule-sets/2026.1").json()
    rules = {r["code"]: r for r in body["rules"]}
    assert len(rules) == 20
    sit04 = rules["SIT-04"]
    assert sit04["basis"] == "project"
    assert sit04["sources"] == ["F2", "E2", "F1"]
    assert sit04["severity"] == "error"
    assert "grande_surface" in sit04["parameters"]["excluded_kinds"]
    assert sit04["parameters_schema"]["properties"]["excluded_naf"]["type"] == "array"
    assert rules["SIT-10"]["parameters"]["radius_m"] == 1000


def test_unknown_rule_set_is_404(client: TestClient):
    response = client.get("/v1/rule-sets/1999.1")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_creating_a_rule_set_needs_an_admin_key(db: Session, client: TestClient):
    key = make_key(db, "operator", operator_id=make_operator(db))
    db.commit()  # releases the test's savepoint: the 401 below rolls back only its own
    body = {"version": "2026.9", "title": "t"}
    assert client.post("/v1/rule-sets", json=body).status_code == 401
    assert client.post("/v1/rule-sets", json=body, headers=bearer(key)).status_code == 403


def test_bad_parameters_are_refused_with_the_field(db: Session, client: TestClient):
    admin = make_key(db, "admin")
    response = client.post(
        "/v1/rule-sets",
        json={
            "version": "2026.9",
            "title": "stricter",
            "rules": {"SIT-04": {"parameters": {"excluded_kinds": ["supermarche"]}}},
        },
        headers=bearer(admin),
    )
    assert response.status_code == 422
    # Named as sent: the API's `rules` object is keyed by code.
    field = response.json()["errors"][0]["field"]
    assert field.startswith("rules.SIT-04.parameters.excluded_kinds")


def test_a_title_or_description_with_a_control_character_is_refused(
    db: Session, client: TestClient
):
    """A rule set's title shows on every verdict's page; a tab or a BEL was stored."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    body = {"version": "2026.9", "title": "stricter\tsiting", "description": "one\u0007two"}
    response = client.post("/v1/rule-sets", json=body, headers=bearer(admin))
    assert response.status_code == 422
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors["title"].startswith("contains the control character U+0009 (tab) at position 9")
    assert "U+0007" in errors["description"]

    body = {"version": "2026.9", "title": "stricter", "description": "one\ntwo"}
    assert client.post("/v1/rule-sets", json=body, headers=bearer(admin)).status_code == 201


def test_admin_creates_and_publishes_a_version(db: Session, client: TestClient):
    admin = make_key(db, "admin")
    operator = make_operator(db)
    cabin = insert_cabin(db, operator, venue_kind="autre", venue_naf="47.11F")
    created = client.post(
        "/v1/rule-sets",
        json={
            "version": "2026.9",
            "title": "SIT-04 as a warning",
            "rules": {"SIT-04": {"severity": "warning"}},
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    published = client.post("/v1/rule-sets/2026.9/publish", headers=bearer(admin))
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["rule_set"]["status"] == "published"
    assert body["evaluation"]["rules"]["SIT-04"]["first"] >= 1
    assert client.get("/v1/rule-sets").json()["in_force"] == "2026.9"
    assert client.get("/v1/rule-sets/2026.1").json()["status"] == "retired"

    # Who created the version, who put it in force and what it replaced: on the audit trail.
    trail = db.execute(
        select(AuditEvent.action, AuditEvent.target_id, AuditEvent.actor_client_id, AuditEvent.diff)
        .where(AuditEvent.target_type == "rule_set")
        .order_by(AuditEvent.id.desc())
        .limit(3)
    ).all()[::-1]
    assert [(e.action, e.target_id) for e in trail] == [
        ("rule_set.create", "2026.9"),
        ("rule_set.retire", "2026.1"),
        ("rule_set.publish", "2026.9"),
    ]
    assert len({e.actor_client_id for e in trail}) == 1 and trail[0].actor_client_id is not None
    assert trail[0].diff["based_on"] == [None, "2026.1"]
    assert trail[2].diff["status"] == ["draft", "published"]
    assert verify(db).ok

    key = make_key(db, "operator", operator_id=operator)
    compliance = client.get(f"/v1/cabins/{cabin}/compliance", headers=bearer(key)).json()
    sit04 = next(v for v in compliance["verdicts"] if v["rule_code"] == "SIT-04")
    assert (sit04["outcome"], sit04["severity"]) == ("fail", "warning")


def test_compliance_of_another_operators_cabin_is_404(db: Session, client: TestClient):
    cabin = insert_cabin(db)
    key = make_key(db, "operator", operator_id=make_operator(db))
    assert client.get(f"/v1/cabins/{cabin}/compliance", headers=bearer(key)).status_code == 404


def test_a_dry_run_publication_reports_the_changes_and_keeps_the_set_in_force(
    db: Session, client: TestClient
):
    """Publishing cannot be undone (a retired set never comes back): `dry_run=true` evaluates
    every cabin under the draft, answers the same report, and writes nothing."""
    admin = make_key(db, "admin")
    cabin = insert_cabin(db, make_operator(db), venue_kind="autre", venue_naf="47.11F")
    evaluate_cabins(db, [cabin])
    in_force = client.get("/v1/rule-sets").json()["in_force"]
    # The cabin's failing and unknown errors, all but SIT-14 failing (unknown), retired.
    retired = ("SIT-04", "SIT-11", "SIT-13", "SIT-14", "SIT-15", "SIT-16")
    created = client.post(
        "/v1/rule-sets",
        json={
            "version": "2026.9",
            "title": "fewer errors",
            "rules": {code: {"enabled": False} for code in retired},
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    events = db.scalar(select(func.count()).select_from(AuditEvent))
    verdicts = db.execute(
        select(Verdict.rule_code, Verdict.outcome, Verdict.rule_set_version).where(
            Verdict.cabin_id == cabin
        )
    ).all()

    dry = client.post("/v1/rule-sets/2026.9/publish?dry_run=true", headers=bearer(admin))
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] is True
    assert body["rule_set"]["status"] == "draft"
    assert body["rule_set"]["published_at"] is None
    assert body["evaluation"]["rule_set_version"] == "2026.9"
    assert not set(retired) & set(body["evaluation"]["rules"])
    assert body["evaluation"]["retired"] == {
        code: {"removed": 1, "failing": 0 if code == "SIT-14" else 1} for code in retired
    }
    assert body["evaluation"]["compliance"] == {
        "compliant": {"before": 0, "after": 1},
        "incomplete": {"before": 0, "after": 0},
        "non_compliant": {"before": 1, "after": 0},
    }

    assert client.get("/v1/rule-sets").json()["in_force"] == in_force
    assert client.get("/v1/rule-sets/2026.9").json()["status"] == "draft"
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert (
        db.execute(
            select(Verdict.rule_code, Verdict.outcome, Verdict.rule_set_version).where(
                Verdict.cabin_id == cabin
            )
        ).all()
        == verdicts
    )

    published = client.post("/v1/rule-sets/2026.9/publish", headers=bearer(admin)).json()
    assert published["dry_run"] is False
    assert published["rule_set"]["status"] == "published"


def test_a_draft_based_on_a_version_that_does_not_exist_is_422_naming_based_on(
    db: Session, client: TestClient
):
    """It was a 404 (read as "no such route") saying "(and none in force)" while one was."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    body = {"version": "2026.9", "title": "t", "based_on": "2020.1"}
    response = client.post("/v1/rule-sets", json=body, headers=bearer(admin))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "based_on", "reason": "no rule set 2020.1 (GET /v1/rule-sets lists them)"}
    ]


def test_a_parameter_of_another_type_is_refused_not_converted(db: Session, client: TestClient):
    """'500' for a distance was stored as the string '500' (read as 500 at evaluation), 0 for a
    yes/no as 0: the published rule set said what no rule-set file would."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    body = {
        "version": "2026.9",
        "title": "t",
        "rules": {
            "SIT-10": {"parameters": {"radius_m": "500"}},
            "SIT-02": {"parameters": {"require_cpts_info_when_covered": 0}},
        },
    }
    response = client.post("/v1/rule-sets", json=body, headers=bearer(admin))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [
        "rules.SIT-02.parameters.require_cpts_info_when_covered",
        "rules.SIT-10.parameters.radius_m",
    ]
    assert errors[0]["reason"] == "must be true or false"
    assert client.get("/v1/rule-sets/2026.9").status_code == 404


def post_profiles(db: Session, client: TestClient, *profiles: tuple[str, list[str]]) -> Any:
    """An admin's POST of rule set 2026.9 whose profiles, (name, régions), each make SIT-10 an
    error."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 rolls back only its own
    stricter = {"SIT-10": {"severity": "error"}}
    body = {
        "version": "2026.9",
        "title": "t",
        "profiles": [{"name": n, "regions": r, "rules": stricter} for n, r in profiles],
    }
    return client.post("/v1/rule-sets", json=body, headers=bearer(admin))


def region_84_taken(field: str) -> dict[str, str]:
    """The error of a profile changing SIT-10 in région 84, which profile ara changes already."""
    return {
        "field": field,
        "reason": "région 84 takes SIT-10 from profile ara (profiles.0) already: one"
        " profile per rule and région",
    }


def test_profiles_that_overlap_or_name_an_unknown_region_are_refused(
    db: Session, client: TestClient
):
    """Two profiles changing SIT-10 in région 84 were accepted, and every new cabin of the
    région was then a 500 (its two verdicts of SIT-10 upserted in one statement); a région
    that does not exist made a profile that applies nowhere."""
    response = post_profiles(db, client, ("ara", ["84"]), ("ara-bis", ["11", "84", "99"]))
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        region_84_taken("profiles.1.regions.1"),
        {"field": "profiles.1.regions.2", "reason": "99 is not a région of the current layer"},
    ]
    assert client.get("/v1/rule-sets/2026.9").status_code == 404


def test_two_profiles_of_one_name_that_overlap_are_refused(db: Session, client: TestClient):
    """The clash was looked for by profile name: two profiles named alike, both changing
    SIT-10 in région 84, passed as one (only the repeated name was reported)."""
    response = post_profiles(db, client, ("ara", ["84"]), ("ara", ["84"]))
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "profiles.1.name", "reason": "ara appears twice"},
        region_84_taken("profiles.1.regions.0"),
    ]
    assert client.get("/v1/rule-sets/2026.9").status_code == 404


def test_a_region_listed_twice_in_one_profile_is_refused(db: Session, client: TestClient):
    """A profile listing région 84 twice passed (its second listing compared with itself), and
    a clash with another profile was then reported against the first listing only."""
    response = post_profiles(db, client, ("ara", ["84", "84"]), ("ara-bis", ["11", "84"]))
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "profiles.0.regions.1", "reason": "84 appears twice"},
        region_84_taken("profiles.1.regions.1"),
    ]
    assert client.get("/v1/rule-sets/2026.9").status_code == 404


def test_a_cabin_written_under_overlapping_profiles_takes_the_first(db: Session, engine_rules):
    """A rule set stored before overlapping profiles were refused: the first profile listed
    applies, and a cabin write of the région is evaluated, not a 500."""
    from service.audit.trail import CLI_ACTOR
    from service.rules import plan, rulesets
    from service.rules.evaluator import evaluate
    from service.rules.models import RuleSet
    from tests.rules.conftest import T1

    rulesets.derive(db, RuleSetCreate(version="2025.8", title="t"), actor=CLI_ACTOR)
    rulesets.publish(db, "2025.8", actor=CLI_ACTOR, at=T1)
    db.get(RuleSet, "2025.8").profiles = [
        {"name": "first", "regions": ["11"], "rules": {"SIT-03": {"severity": "error"}}},
        {"name": "second", "regions": ["11"], "rules": {"SIT-03": {"severity": "warning"}}},
    ]
    db.flush()
    plan.forget_plans()
    cabin = insert_cabin(db, venue_kind="entreprise")
    evaluate(db, [cabin])
    stored = db.get(Verdict, (cabin, "SIT-03"))
    assert (stored.profile, stored.severity) == ("first", "error")


def test_a_draft_refused_at_publication_names_its_rules_by_code(db: Session, client: TestClient):
    """A draft stored before a check it fails (parameters read laxly then, or a rule's model
    changed since) was refused naming `rules.9`, a place in no list the admin sent."""
    from service.rules.models import Rule

    admin = make_key(db, "admin")
    created = client.post(
        "/v1/rule-sets", json={"version": "2026.9", "title": "t"}, headers=bearer(admin)
    )
    assert created.status_code == 201
    rule = db.get(Rule, ("2026.9", "SIT-10"))
    rule.parameters = {**rule.parameters, "radius_m": "500"}
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    response = client.post("/v1/rule-sets/2026.9/publish", headers=bearer(admin))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["rules.SIT-10.parameters.radius_m"]


def test_a_rule_set_with_no_rule_enabled_is_refused(db: Session, client: TestClient):
    """Published, it judged every cabin compliant: no rule left to fail."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    off = {f"SIT-{i:02d}": {"enabled": False} for i in range(1, 21)}
    body = {"version": "2026.9", "title": "nothing", "rules": off}
    response = client.post("/v1/rule-sets", json=body, headers=bearer(admin))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "rules",
            "reason": "no rule is enabled: under this set every cabin would be compliant",
        }
    ]


def test_a_version_number_with_a_leading_zero_is_refused(db: Session, client: TestClient):
    """2026.01 and 2026.1 were two rule sets, told apart by a zero no one reads."""
    admin = make_key(db, "admin")
    db.commit()  # releases the test's savepoint: the 422 below rolls back only its own
    response = client.post(
        "/v1/rule-sets", json={"version": "2026.01", "title": "t"}, headers=bearer(admin)
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "version"
    assert error["reason"] == (
        "must be a version such as 2026.2 (the year, a dot, a number without a leading zero)"
    )
    assert client.get("/v1/rule-sets/2026.01").status_code == 400


def test_the_list_orders_versions_by_number(db: Session, client: TestClient):
    """Drafts came in text order: 2026.9 before 2026.10."""
    admin = make_key(db, "admin")
    for version in ("2026.10", "2026.9"):
        body = {"version": version, "title": f"draft {version}"}
        assert client.post("/v1/rule-sets", json=body, headers=bearer(admin)).status_code == 201
    versions = [i["version"] for i in client.get("/v1/rule-sets").json()["items"]]
    assert versions.index("2026.10") < versions.index("2026.9")


def test_publishing_again_the_file_of_a_stored_set_that_predates_a_check_changes_nothing(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`registry rules publish` is idempotent: the file of a set stored before a check was
    added (here: no rule enabled) is the same set, not a new one to refuse."""
    spec = yaml.safe_load(rulesets.FIRST_RULE_SET.read_text())
    spec["version"] = "2099.7"
    for rule in spec["rules"]:
        rule["enabled"] = False
    path = tmp_path / "2099.7.yaml"
    path.write_text(yaml.safe_dump(spec))
    with monkeypatch.context() as before_the_check:
        before_the_check.setattr(rulesets, "check", lambda *args, **kwargs: None)
        stored = rulesets.create(db, rulesets.read_file(path), actor=CLI_ACTOR)
    stored.status = "retired"
    db.flush()
    events = db.scalar(select(func.count()).select_from(AuditEvent))

    rule_set, report = rulesets.publish_file(db, path, actor=CLI_ACTOR)

    assert (rule_set.version, rule_set.status, report) == ("2099.7", "retired", None)
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events
    spec["title"] = "another title"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(Conflict):
        rulesets.publish_file(db, path, actor=CLI_ACTOR)


def test_a_siting_check_by_a_rule_set_that_does_not_exist_names_the_parameter(
    db: Session, client: TestClient
):
    """The 400 said "No rule set 2031.1." where every other refused parameter says which
    parameter and why."""
    key = make_key(db, "operator", operator_id=make_operator(db))
    db.commit()  # releases the test's savepoint: the 400 below rolls back only its own
    response = client.post(
        "/v1/checks/siting?rule_set=2031.1",
        json={"venue": {"kind": "entreprise"}},
        headers=bearer(key),
    )
    assert response.status_code == 400, response.text
    reason = "no rule set 2031.1 (GET /v1/rule-sets lists them)"
    assert response.json()["detail"] == f"The parameter `rule_set` is not valid: {reason}."
    assert response.json()["errors"] == [{"field": "rule_set", "reason": reason}]
