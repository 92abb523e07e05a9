"""GET /v1/compliance/summary: counts, rates and failures per group, in one SQL statement."""

from __future__ import annotations

from typing import get_args

import pytest
from sqlalchemy import delete, event, func, select, text, update
from sqlalchemy.orm import Session

from service.auth.deps import Principal
from service.compliance import queries
from service.compliance.filters import Filters
from service.compliance.models import ComplianceTally, rule_bit
from service.compliance.schemas import SummaryBy
from service.rules.models import CabinCompliance
from tests.compliance.conftest import World


def groups(client, world: World, role: str = "national", **params: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.get("/v1/compliance/summary", params=params, headers=world.keys[role])
    assert r.status_code == 200, r.text
    return r.json()


def test_by_region_counts_statuses_rate_and_failures(client, world: World) -> None:
    body = groups(client, world, by="region")
    by_key = {g["key"]: g for g in body["groups"]}
    sit03, sit05 = world.codes[2], world.codes[4]
    assert by_key["84"] | {"name": None} == {
        "key": "84",
        "name": None,
        "cabins": 2,
        "compliant": 1,
        "non_compliant": 1,
        "incomplete": 0,
        "not_evaluated": 0,
        "rate": 0.5,
        "failures": {sit03: 1},
        "outcomes": None,
    }
    assert by_key["84"]["name"] == "Auvergne-Rhône-Alpes"
    assert by_key["11"]["incomplete"] == 1 and by_key["11"]["rate"] == 0.0
    assert by_key["11"]["failures"] == {sit03: 1, sit05: 1}
    assert body["total"]["cabins"] == 4
    assert body["total"]["failures"] == {sit03: 2, sit05: 1}
    assert body["rule_set_version"] == world.rule_set


def test_by_commune_and_operator(client, world: World) -> None:
    communes = {g["key"]: g["cabins"] for g in groups(client, world, by="commune")["groups"]}
    assert communes == {"69123": 2, "75056": 2}
    operators = {g["key"]: g for g in groups(client, world, by="operator")["groups"]}
    assert operators[str(world.operator_a)]["name"] == "Opérateur A"
    assert operators[str(world.operator_a)]["non_compliant"] == 1


def test_by_rule_counts_outcomes(client, world: World) -> None:
    body = groups(client, world, by="rule")
    sit03 = next(g for g in body["groups"] if g["key"] == world.codes[2])
    assert sit03["outcomes"] == {"pass": 2, "fail": 2, "unknown": 0, "not_applicable": 0}
    assert sit03["failures"] == {world.codes[2]: 2}
    assert sit03["rate"] == 0.5


def test_by_rule_the_total_names_every_outcome_even_with_no_verdict(client, world: World) -> None:
    """With no cabin in scope the total's outcomes were {}, where a client reads
    outcomes["fail"] as on any other answer."""
    body = groups(client, world, "ars_84", by="rule", departement="01")  # no cabin in the Ain
    assert body["groups"] == []
    assert body["total"]["outcomes"] == {"pass": 0, "fail": 0, "unknown": 0, "not_applicable": 0}


@pytest.mark.parametrize(
    ("role", "params"),
    [("national", {}), ("ars_11", {}), ("national", {"compliance": "non_compliant"})],
)
def test_the_total_counts_cabins_whatever_the_grouping(
    client, world: World, role: str, params: dict[str, str]
) -> None:
    """By rule, the total summed the rules' verdicts: 4 cabins under 20 rules read as 80
    cabins, with a rate of passing verdicts where every other `by` gives compliant cabins."""
    by_region = groups(client, world, role, by="region", **params)["total"]
    by_rule = groups(client, world, role, by="rule", **params)
    total = by_rule["total"]
    assert {**total, "outcomes": None} == by_region
    expected = {"a84", "b11"} if params else world.visible(role)
    assert total["cabins"] == len(expected)
    for outcome in ("pass", "fail", "unknown", "not_applicable"):
        assert total["outcomes"][outcome] == sum(g["outcomes"][outcome] for g in by_rule["groups"])


def test_a_regional_regulator_counts_its_region_only(client, world: World) -> None:
    body = groups(client, world, "ars_84", by="region")
    assert [g["key"] for g in body["groups"]] == ["84"]
    r = client.get(
        "/v1/compliance/summary",
        params={"by": "region", "region": "11"},
        headers=world.keys["ars_84"],
    )
    assert r.status_code == 403  # another région: refused, not an empty count
    body = groups(client, world, "operator_a", by="operator")
    assert [g["key"] for g in body["groups"]] == [str(world.operator_a)]


def test_unknown_by_is_400_listing_the_accepted_values(client, world: World) -> None:
    r = client.get("/v1/compliance/summary?by=city", headers=world.keys["national"])
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["field"] == "by"
    for accepted in ("region", "departement", "commune", "operator", "rule"):
        assert accepted in error["reason"]


@pytest.mark.parametrize("by", get_args(SummaryBy))
def test_the_summary_is_one_sql_statement(db: Session, world: World, by: str) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    connection = db.connection()
    principal = Principal(client_id=world.operator_a, name="n", role="regulator", scope="national")
    event.listen(connection, "before_cursor_execute", count)
    try:
        if by == "rule":
            assert queries.summary_by_rule(db, principal, Filters(region="84"))
        else:
            assert queries.summary(db, principal, Filters(region="84"), by).groups_json != "[]"
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(statements) == 1


def test_every_catalogue_rule_has_the_same_bit_in_python_and_in_sql(db: Session) -> None:
    codes = queries.rule_codes()
    assert all(rule_bit(code) is not None for code in codes)
    expected = sum(1 << bit for bit in {rule_bit(code) for code in codes} if bit is not None)
    assert db.scalar(select(func.compliance_rule_bits(codes))) == expected
    assert db.scalar(select(func.compliance_rule_bits(["ACC-01", "SIT-00", "SIT-63"]))) == 0


def test_the_tally_follows_every_write_of_cabin_compliance(
    client, db: Session, world: World
) -> None:
    """Updated in one statement, deleted: the summary counts what cabin_compliance holds."""
    sit01, sit07, sit20 = world.codes[0], world.codes[6], world.codes[19]
    paris = [world.cabins["a11"].id, world.cabins["b11"].id]
    db.execute(
        update(CabinCompliance)
        .where(CabinCompliance.cabin_id.in_(paris))
        .values(
            compliance_status="non_compliant",
            failing_errors=[sit01, sit20],
            failing_warnings=[sit07],
            unknown_errors=[],
        )
    )
    paris_group = groups(client, world, by="commune", commune="75056")["groups"][0]
    assert paris_group["non_compliant"] == 2 and paris_group["rate"] == 0.0
    assert paris_group["failures"] == {sit01: 2, sit07: 2, sit20: 2}
    db.execute(delete(CabinCompliance).where(CabinCompliance.cabin_id == paris[0]))
    paris_group = groups(client, world, by="commune", commune="75056")["groups"][0]
    assert paris_group["not_evaluated"] == 1 and paris_group["non_compliant"] == 1
    assert paris_group["failures"] == {sit01: 1, sit07: 1, sit20: 1}
    tally = db.scalars(select(ComplianceTally.cabin_id).where(ComplianceTally.cabin_id.in_(paris)))
    assert list(tally) == [paris[1]]


def test_the_compliance_filter_counts_only_that_status(client, world: World) -> None:
    sit03, sit05 = world.codes[2], world.codes[4]
    body = groups(client, world, by="region", compliance="non_compliant")
    assert {g["key"]: (g["cabins"], g["non_compliant"]) for g in body["groups"]} == {
        "84": (1, 1),
        "11": (1, 1),
    }
    assert body["total"]["failures"] == {sit03: 2, sit05: 1}
    body = groups(client, world, by="region", compliance="incomplete")
    assert [(g["key"], g["incomplete"], g["failures"]) for g in body["groups"]] == [("11", 1, {})]


def test_truncating_cabin_compliance_empties_the_tally(client, db: Session, world: World) -> None:
    db.execute(text("TRUNCATE cabin_compliance"))
    assert db.scalar(select(func.count()).select_from(ComplianceTally)) == 0
    body = groups(client, world, by="region")
    assert body["total"]["not_evaluated"] == body["total"]["cabins"] == 4
    assert body["total"]["failures"] == {}


def test_a_rule_code_without_a_bit_is_counted_from_the_arrays(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = [*queries.rule_codes(), "ZZZ-01"]
    monkeypatch.setattr(queries, "rule_codes", lambda: codes)
    a84 = world.cabins["a84"].id
    db.execute(
        update(CabinCompliance)
        .where(CabinCompliance.cabin_id == a84)
        .values(failing_warnings=["ZZZ-01"])
    )
    principal = Principal(client_id=world.operator_a, name="n", role="regulator", scope="national")
    document = queries.summary(db, principal, Filters(region="84"), "region")
    assert document.totals["failures"] == {world.codes[2]: 1, "ZZZ-01": 1}
