"""GET /v1/compliance/summary: counts, rates and failures per group, in one SQL statement."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from service.auth.deps import Principal
from service.compliance import queries
from service.compliance.filters import Filters
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


def test_a_regional_regulator_counts_its_region_only(client, world: World) -> None:
    body = groups(client, world, "ars_84", by="region")
    assert [g["key"] for g in body["groups"]] == ["84"]
    assert groups(client, world, "ars_84", by="region", region="11")["groups"] == []
    body = groups(client, world, "operator_a", by="operator")
    assert [g["key"] for g in body["groups"]] == [str(world.operator_a)]


def test_unknown_by_is_400_listing_the_accepted_values(client, world: World) -> None:
    r = client.get("/v1/compliance/summary?by=city", headers=world.keys["national"])
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["field"] == "by"
    for accepted in ("region", "departement", "commune", "operator", "rule"):
        assert accepted in error["reason"]


@pytest.mark.parametrize("by", queries.SUMMARY_KEYS)
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
