"""GET /v1/compliance/cabins: filters, keyset pages, failing rules with evidence, the scope of
each caller, and bad filters answered 400 naming the parameter and what it accepts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.rules.models import Rule
from service.territories.models import Epci
from tests.auth.factories import bearer, make_key
from tests.compliance.conftest import World


def ids(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def refs(world: World, *names: str) -> set[str]:
    return {str(world.cabins[n].id) for n in names}


def test_each_row_carries_its_failing_rules_with_evidence(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/cabins",
        params={"rule": world.codes[2], "outcome": "fail", "region": "84"},
        headers=world.keys["national"],
    )
    (item,) = r.json()["items"]
    assert item["id"] == str(world.cabins["a84"].id)
    assert item["compliance_status"] == "non_compliant"
    assert item["failing"] == [
        {
            "rule": world.codes[2],
            "severity": "error",
            "failing_since": "2026-03-01T00:00:00Z",
            "evidence": {"reason": "too far", "distance_m": 1234},
        }
    ]
    assert item["commune_name"] == "Lyon" and item["region_code"] == "84"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ("a84", "b84", "a11", "b11")),
        ({"region": "11"}, ("a11", "b11")),
        ({"departement": "69"}, ("a84", "b84")),
        ({"commune": "75056"}, ("a11", "b11")),
        ({"epci": "200046977"}, ("a84", "b84")),
        ({"outcome": "fail"}, ("a84", "b11")),
        ({"outcome": "unknown"}, ("a11",)),
        ({"compliance": "compliant"}, ("b84",)),
        ({"severity": "warning"}, ()),
        ({"failing_since_before": "2026-04-01"}, ("a84",)),
        ({"failing_since_after": "2026-04-01T00:00:00+00:00"}, ("b11",)),
        ({"bbox": "4.7,45.7,4.9,45.8"}, ("a84", "b84")),
        ({"status": "draft"}, ()),
    ],
)
def test_filters_select_the_matching_cabins(
    client, world: World, params: dict[str, str], expected: tuple[str, ...]
) -> None:
    r = client.get("/v1/compliance/cabins", params=params, headers=world.keys["national"])
    assert ids(r) == refs(world, *expected)


def test_operator_filter(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/cabins",
        params={"operator": str(world.operator_b)},
        headers=world.keys["national"],
    )
    assert ids(r) == refs(world, "b84", "b11")


@pytest.mark.parametrize("role", ["operator_a", "operator_b", "ars_84", "ars_11", "national"])
def test_each_caller_sees_its_scope_only(client, world: World, role: str) -> None:
    r = client.get("/v1/compliance/cabins", headers=world.keys[role])
    assert ids(r) == refs(world, *world.visible(role))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/compliance/cabins", {"region": "11"}),
        ("/v1/compliance/cabins", {"departement": "75"}),
        ("/v1/compliance/cabins", {"commune": "75056"}),
        ("/v1/compliance/summary", {"by": "commune", "region": "11"}),
        ("/v1/compliance/export.csv", {"departement": "75"}),
        ("/v1/compliance/coverage", {"region": "11"}),
        ("/v1/cabins", {"commune": "75056"}),
    ],
)
def test_a_regional_key_naming_another_region_is_403_naming_the_filter(
    client, world: World, path: str, params: dict[str, str]
) -> None:
    """An empty answer would read as "nothing there"; it is the key that cannot see there."""
    r = client.get(path, params=params, headers=world.keys["ars_84"])
    assert r.status_code == 403, r.text
    field = next(name for name in params if name != "by")
    assert r.json()["errors"] == [{"field": field, "reason": "outside the key's scope (région 84)"}]
    assert client.get(path, params=params, headers=world.keys["national"]).status_code == 200
    inside = {"region": "84", "departement": "69", "commune": "69123"}[field]
    r = client.get(path, params={**params, field: inside}, headers=world.keys["ars_84"])
    assert r.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/compliance/cabins", "/v1/compliance/summary", "/v1/compliance/export.csv"],
)
def test_a_regional_key_naming_an_epci_of_another_region_is_403_as_for_a_commune(
    client, db: Session, world: World, path: str
) -> None:
    """The Métropole du Grand Paris asked by the ARS of Auvergne-Rhône-Alpes was an empty 200,
    where its commune Paris is a 403; an EPCI across a border (Redon Agglomération, in Pays de
    la Loire and Bretagne) is in the scope of both régions' keys."""
    grand_paris, lyon = "200054781", "200046977"
    r = client.get(path, params={"epci": grand_paris}, headers=world.keys["ars_84"])
    assert r.status_code == 403, r.text
    assert r.json()["errors"] == [
        {"field": "epci", "reason": "outside the key's scope (région 84)"}
    ]
    assert "epci=200054781 is in région 11" in r.json()["detail"]
    assert client.get(path, params={"epci": lyon}, headers=world.keys["ars_84"]).status_code == 200
    r = client.get(path, params={"epci": grand_paris}, headers=world.keys["national"])
    assert r.status_code == 200
    across = "243500741"  # Redon Agglomération: communes in régions 52 and 53
    for scope in ("52", "53"):
        key = bearer(make_key(db, "regulator", scope=f"region:{scope}"))
        r = client.get(path, params={"epci": across}, headers=key)
        assert r.status_code == 200, r.text
    r = client.get(path, params={"epci": across}, headers=world.keys["ars_84"])
    assert r.status_code == 403
    assert "epci=243500741 is in régions 52, 53" in r.json()["detail"]


def test_an_epci_the_current_communes_do_not_name_is_empty_for_a_regional_key(
    client, db: Session, world: World
) -> None:
    """An EPCI of the current EPCI layer that no current commune names (the two layers of
    different years) was a 403 reading "is in région ." (no région named)."""
    layer = db.scalar(select(Epci.layer_id).limit(1))
    db.add(Epci(layer_id=layer, vintage="2026", siren="200099999", name="Communauté nouvelle"))
    db.flush()
    r = client.get(
        "/v1/compliance/cabins", params={"epci": "200099999"}, headers=world.keys["ars_84"]
    )
    assert r.status_code == 200, r.text
    assert ids(r) == set()


def test_an_operator_filter_outside_the_operator_returns_nothing(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/cabins",
        params={"operator": str(world.operator_b)},
        headers=world.keys["operator_a"],
    )
    assert ids(r) == set()


def test_one_cabin_outside_the_region_is_404(client, world: World) -> None:
    a11 = world.cabins["a11"].id
    assert (
        client.get(f"/v1/compliance/cabins/{a11}", headers=world.keys["ars_11"]).status_code == 200
    )
    r = client.get(f"/v1/compliance/cabins/{a11}", headers=world.keys["ars_84"])
    assert r.status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    other = client.get(f"/v1/compliance/cabins/{missing}", headers=world.keys["ars_84"])
    assert r.text.replace(str(a11), "ID") == other.text.replace(missing, "ID")


def test_keyset_pages_cover_every_row_once(client, world: World) -> None:
    seen: list[str] = []
    url: str | None = "/v1/compliance/cabins?limit=1"
    while url:
        r = client.get(url, headers=world.keys["national"])
        assert r.status_code == 200
        seen += [i["id"] for i in r.json()["items"]]
        url = r.json()["next"]
    assert sorted(seen) == sorted(refs(world, "a84", "b84", "a11", "b11"))
    assert len(seen) == 4


def test_no_key_is_401(client, world: World) -> None:
    r = client.get("/v1/compliance/cabins")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "field", "accepted"),
    [
        ({"region": "99"}, "region", "84"),
        ({"departement": "6"}, "departement", "69"),
        ({"commune": "75000"}, "commune", "INSEE"),
        # what the code is, when it is known
        ({"commune": "69381"}, "commune", "municipal arrondissement of Lyon"),
        ({"commune": "97502"}, "commune", "Saint-Pierre-et-Miquelon"),
        ({"commune": "2a004"}, "commune", "written 2A004"),
        ({"commune": "1001"}, "commune", "written 01001"),
        ({"departement": "2a"}, "departement", "write it 2A"),
        ({"departement": "1"}, "departement", "write it 01"),
        ({"departement": "975"}, "departement", "Saint-Pierre-et-Miquelon"),
        ({"epci": "123"}, "epci", "SIREN"),
        ({"rule": "SIT-99"}, "rule", "SIT-01"),
        ({"outcome": "failed"}, "outcome", "fail"),
        ({"severity": "fatal"}, "severity", "warning"),
        ({"status": "live"}, "status", "active"),
        ({"compliance": "ok"}, "compliance", "non_compliant"),
        ({"operator": "acme"}, "operator", "UUID"),
        ({"operator": "00000000-0000-0000-0000-000000000000"}, "operator", "operator"),
        ({"failing_since_before": "2026-13-01"}, "failing_since_before", "ISO 8601"),
        ({"failing_since_after": "yesterday"}, "failing_since_after", "ISO 8601"),
        ({"failing_since_after": "2026-03-01T08:00:00 01:00"}, "failing_since_after", "%2B"),
        ({"bbox": "1,2,3"}, "bbox", "minlon"),
        ({"after": "!!"}, "after", "next"),
        # an empty cursor is a mistake (a template left blank), not the first page
        ({"after": ""}, "after", "next"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter_and_what_it_accepts(
    client, world: World, params: dict[str, str], field: str, accepted: str
) -> None:
    for path in ("/v1/compliance/cabins", "/v1/compliance/export.csv"):
        if field == "after" and path.endswith(".csv"):
            continue
        r = client.get(path, params=params, headers=world.keys["national"])
        assert r.status_code == 400, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        (error,) = r.json()["errors"]
        assert error["field"] == field
        assert accepted in error["reason"]


def test_a_rule_disabled_in_the_rule_set_in_force_is_400_saying_so(
    client, db: Session, world: World
) -> None:
    """A disabled rule's verdicts are removed when the set is published: rule=SIT-05 could
    only answer an empty 200, as if no cabin failed it."""
    disabled = world.codes[4]
    db.execute(
        update(Rule)
        .where(Rule.rule_set_version == world.rule_set, Rule.code == disabled)
        .values(enabled=False)
    )
    db.commit()  # releases the savepoint only: a 400 rolls the request's work back
    for path in ("/v1/compliance/cabins", "/v1/compliance/summary", "/v1/compliance/export.csv"):
        r = client.get(path, params={"rule": disabled}, headers=world.keys["national"])
        assert r.status_code == 400, (path, r.text)
        (error,) = r.json()["errors"]
        assert error["field"] == "rule"
        assert "is disabled in the rule set in force" in error["reason"]
        assert disabled not in error["reason"].split("applied: ")[1]
        assert world.codes[0] in error["reason"].split("applied: ")[1]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/compliance/cabins",
        "/v1/compliance/summary",
        "/v1/compliance/export.csv",
        "/v1/compliance/export.geojson",
        "/v1/compliance/export.xlsx",
        "/v1/compliance/coverage",
        "/v1/compliance/changes",
    ],
)
def test_a_parameter_given_twice_is_400_naming_it(client, world: World, path: str) -> None:
    """`region=84&region=11` was read as region=11 (the last value), silently."""
    name, values = {
        "/v1/compliance/summary": ("by", ["region", "operator"]),
        "/v1/compliance/changes": ("limit", ["1", "2"]),
    }.get(path, ("region", ["84", "11"]))
    query = [(name, v) for v in values]
    r = client.get(path, params=query, headers=world.keys["national"])
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert set(errors) == {name}
    assert errors[name].startswith(f"given 2 times ({values[0]!r}, {values[1]!r})")
    assert f"`{name}`" in r.json()["detail"]


def test_every_repeated_parameter_is_named(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/cabins?region=84&status=active&region=84&limit=1&limit=2",
        headers=world.keys["national"],
    )
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["region", "limit"]
