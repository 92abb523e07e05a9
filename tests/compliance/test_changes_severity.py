"""GET /v1/compliance/changes when a publication changes a rule's severity and no outcome: a
`verdict` item per verdict, with the same old and new outcome and the new severity, so that a
copy kept from the feed (and the `verdicts` of a cabin entering a région) holds it; and when
it leaves a rule out: a `not_applicable` item per verdict removed."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.rules.evaluator import evaluate_cabins
from service.rules.schemas import RuleChange
from tests.auth.factories import bearer, make_key, make_operator
from tests.compliance.factories import feed_end
from tests.compliance.test_changes_scope import as_ended, read
from tests.rules.conftest import T0, T1, derive_and_publish, engine_rules
from tests.rules.factories import good_siting, insert_cabin

__all__ = ["engine_rules"]  # the fixture, used by name

LYON = {
    "lon": 4.8357,
    "lat": 45.7640,
    "declared_insee": "69123",
    "commune_insee": "69123",
    "departement_code": "69",
    "region_code": "84",
}
WORKPLACE = {
    "venue_kind": "entreprise",
    "siting": good_siting() | {"assistance_modes": ["trained_staff"]},
}


def stored_severities(db: Session, cabin) -> dict[str, str]:
    rows = db.execute(
        text("SELECT rule_code, severity FROM verdict WHERE cabin_id = :id"), {"id": cabin}
    )
    return dict(rows.tuples().all())


def test_a_severity_change_is_a_verdict_item_with_the_new_severity(
    db: Session, engine_rules: str, client: TestClient
) -> None:
    """SIT-03 made an error: the cabin of région 84 went from compliant to non_compliant, its
    verdict was rewritten, and the feed served nothing."""
    operator = make_operator(db)
    lyon = insert_cabin(db, operator, **LYON, **WORKPLACE)
    evaluate_cabins(db, None, at=T0)
    as_ended(db)
    start = feed_end(db)
    ars_84 = bearer(make_key(db, "regulator", scope="region:84"))

    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    as_ended(db)

    items = read(client, start, ars_84)
    assert [(i["kind"], i["cabin_id"], i["rule_code"]) for i in items] == [
        ("verdict", str(lyon), "SIT-03")
    ]
    [item] = items
    assert (item["old_outcome"], item["new_outcome"]) == ("fail", "fail")
    assert (item["severity"], item["rule_set_version"]) == ("error", "2025.2")
    assert item["changed_at"].startswith("2025-06-10")
    assert db.scalar(
        text("SELECT compliance_status FROM cabin_compliance WHERE cabin_id = :id"), {"id": lyon}
    ) == ("non_compliant")


def test_a_cabin_entering_a_region_carries_the_severities_the_feed_gave(
    db: Session, engine_rules: str, client: TestClient
) -> None:
    """A copy kept from the feed holds each verdict's severity: the `entered_scope` item's
    verdicts carried SIT-03 as a warning after it became an error."""
    operator = make_operator(db)
    cabin = insert_cabin(db, operator, **WORKPLACE)  # in Paris, région 11
    evaluate_cabins(db, None, at=T0)
    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    as_ended(db)
    start = feed_end(db)
    ars_84 = bearer(make_key(db, "regulator", scope="region:84"))

    db.execute(
        text("UPDATE cabin SET region_code = '84', departement_code = '69' WHERE id = :id"),
        {"id": cabin},
    )
    as_ended(db)

    [entered] = [i for i in read(client, start, ars_84) if i["cabin_id"] == str(cabin)]
    assert entered["kind"] == "entered_scope"
    given = {v["rule_code"]: v["severity"] for v in entered["verdicts"]}
    assert given["SIT-03"] == "error"
    assert given == stored_severities(db, cabin)


def test_the_national_feed_gives_every_verdict_whose_severity_changed(
    db: Session, engine_rules: str, client: TestClient
) -> None:
    operator = make_operator(db)
    cabins = [insert_cabin(db, operator, **WORKPLACE), insert_cabin(db, operator)]
    evaluate_cabins(db, None, at=T0)
    as_ended(db)
    start = feed_end(db)
    national = bearer(make_key(db, "regulator", scope="national"))

    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    as_ended(db)
    items = [i for i in read(client, start, national) if i["cabin_id"] in map(str, cabins)]
    assert sorted((i["cabin_id"], i["old_outcome"], i["new_outcome"]) for i in items) == sorted(
        [(str(cabins[0]), "fail", "fail"), (str(cabins[1]), "pass", "pass")]
    )
    assert {(i["rule_code"], i["severity"]) for i in items} == {("SIT-03", "error")}

    # The next set changes SIT-06's severity only: SIT-03's verdicts, unchanged, are not served.
    cursor = feed_end(db)
    derive_and_publish(db, "2025.3", T1 + timedelta(days=1), SIT_06=RuleChange(severity="error"))
    as_ended(db)
    items = [i for i in read(client, cursor, national) if i["cabin_id"] in map(str, cabins)]
    assert sorted(i["rule_code"] for i in items) == ["SIT-06", "SIT-06"]


def test_a_rule_a_publication_leaves_out_is_a_not_applicable_item_for_each_cabin(
    db: Session, engine_rules: str, client: TestClient
) -> None:
    """The verdicts of a rule no longer enabled are removed from the cabins' compliance: the
    feed says so with a `not_applicable` item, so that a copy kept from the feed drops them
    (and a failing one no longer counts against the cabin)."""
    operator = make_operator(db)
    outdoor = insert_cabin(db, operator, **LYON, siting=good_siting() | {"placement": "outdoor"})
    evaluate_cabins(db, None, at=T0)
    as_ended(db)
    start = feed_end(db)
    ars_84 = bearer(make_key(db, "regulator", scope="region:84"))

    derive_and_publish(db, "2025.2", T1, SIT_05=RuleChange(enabled=False))
    as_ended(db)

    [item] = [i for i in read(client, start, ars_84) if i["cabin_id"] == str(outdoor)]
    assert (item["kind"], item["rule_code"]) == ("verdict", "SIT-05")
    assert (item["old_outcome"], item["new_outcome"]) == ("fail", "not_applicable")
    assert item["rule_set_version"] == "2025.2" and "2025.2" in item["evidence"]["reason"]
    assert "SIT-05" not in stored_severities(db, outdoor)
