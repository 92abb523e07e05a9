"""Each check of the cabin record: a 422 problem naming the field and the reason, and no row
written. The location check is also run over a table, as the importer runs it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service import timespans
from service.cabins.models import Cabin
from service.cabins.validation import check_locations_in, opening_hours_problem
from tests.auth.fixtures import Callers
from tests.cabins.factories import LYON, cabin_body

TOMORROW = (timespans.today() + timedelta(days=1)).isoformat()


def refused(client: TestClient, callers: Callers, db: Session, body: dict) -> dict[str, str]:
    before = db.scalar(select(func.count()).select_from(Cabin))
    response = client.post("/v1/cabins", json=body, headers=callers.operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert db.scalar(select(func.count()).select_from(Cabin)) == before  # nothing written
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_invalid_siret_checksum(client: TestClient, callers: Callers, db: Session) -> None:
    errors = refused(client, callers, db, cabin_body(venue__siret="73282932000075"))
    assert "SIRET" in errors["venue.siret"]


def test_siret_of_wrong_length(client: TestClient, callers: Callers, db: Session) -> None:
    errors = refused(client, callers, db, cabin_body(venue__siret="7328293200007"))
    assert errors["venue.siret"] == "must be a SIRET of 14 digits"


def test_an_insee_code_that_lost_its_leading_zero_is_said_in_words(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """As a spreadsheet leaves it: the reason says what a code is, not a regular expression."""
    errors = refused(client, callers, db, cabin_body(location__declared_insee="1053"))
    reason = errors["location.declared_insee"]
    assert reason.startswith("must be an INSEE commune code of 5 characters")
    assert "01053" in reason and "[0-9]" not in reason


def test_provider_siret_checksum(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(provider={"name": "Télé", "siret": "11111111111112"})
    assert "provider.siret" in refused(client, callers, db, body)


@pytest.mark.parametrize("finess", ["990012345", "000012345", "977012345"])
def test_finess_with_no_departement_prefix(
    client: TestClient, callers: Callers, db: Session, finess: str
) -> None:
    errors = refused(client, callers, db, cabin_body(venue__finess=finess))
    assert "département" in errors["venue.finess"]


def test_finess_of_corsica_and_overseas_are_accepted(client: TestClient, callers: Callers) -> None:
    body = cabin_body(venue__finess="2A0001234")
    assert client.post("/v1/cabins", json=body, headers=callers.operator).status_code == 201
    body = cabin_body("R2", venue__finess="974001234")
    assert client.post("/v1/cabins", json=body, headers=callers.operator).status_code == 201


def test_rpps_must_be_11_digits(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(care_links=[{"kind": "professionnel_rpps", "rpps": "1234567890"}])
    assert refused(client, callers, db, body)["care_links.0.rpps"] == (
        "must be an RPPS number of 11 digits"
    )


def test_unknown_insee_code(client: TestClient, callers: Callers, db: Session) -> None:
    errors = refused(client, callers, db, cabin_body(location__declared_insee="75999"))
    assert errors["location.declared_insee"] == "no commune 75999 in the current commune layer"


def test_point_at_sea(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(location={"lon": -5.5, "lat": 47.0, "declared_insee": "29019"})
    errors = refused(client, callers, db, body)
    assert "not in France" in errors["location"]


def test_point_abroad(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(location={"lon": 13.405, "lat": 52.52, "declared_insee": "75056"})  # Berlin
    assert "not in France" in refused(client, callers, db, body)["location"]


def test_point_in_another_commune_names_it(
    client: TestClient, callers: Callers, db: Session
) -> None:
    body = cabin_body(location={**LYON, "declared_insee": "75056"})
    errors = refused(client, callers, db, body)
    assert errors["location.declared_insee"] == (
        "the point is not in Paris (75056): it falls in Lyon (69123)"
    )


def test_swapped_coordinates_are_detected_not_swapped(
    client: TestClient, callers: Callers, db: Session
) -> None:
    body = cabin_body(location={"lon": 48.8566, "lat": 2.3522, "declared_insee": "75056"})
    errors = refused(client, callers, db, body)
    assert "swapped" in errors["location"]
    assert "Paris (75056)" in errors["location"]


def test_overseas_and_corsica_points_are_in_france(client: TestClient, callers: Callers) -> None:
    for ref, loc in {
        "RE": {"lon": 55.4504, "lat": -20.8821, "declared_insee": "97411"},
        "MQ": {"lon": -61.0588, "lat": 14.6161, "declared_insee": "97209"},
        "CO": {"lon": 8.7369, "lat": 41.9192, "declared_insee": "2A004"},
    }.items():
        body = cabin_body(ref, location=loc, venue__finess=None)
        response = client.post("/v1/cabins", json=body, headers=callers.operator)
        assert response.status_code == 201, response.text
        assert response.json()["location"]["commune"]["insee"] == loc["declared_insee"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entree_largeur_mini", 5000),
        ("turning_diameter_cm", -1),
        ("ramp_slope_pct", 150),
        ("controls_height_max_cm", 900),
        ("threshold_height_cm", 80),
    ],
)
def test_measurement_out_of_plausible_range(
    client: TestClient, callers: Callers, db: Session, field: str, value: float
) -> None:
    errors = refused(client, callers, db, cabin_body(**{f"accessibility__{field}": value}))
    assert f"accessibility.{field}" in errors


def test_controls_min_above_max(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(
        accessibility__controls_height_min_cm=120, accessibility__controls_height_max_cm=100
    )
    assert "accessibility.controls_height_min_cm" in refused(client, callers, db, body)


def test_tri_state_rejects_a_string(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(accessibility__hearing_loop="maybe")
    assert "accessibility.hearing_loop" in refused(client, callers, db, body)


@pytest.mark.parametrize("hours", ["Mo-Fr 8-19", "every day", "Lu-Ve 09:00-19:00"])
def test_opening_hours_not_in_osm_syntax(
    client: TestClient, callers: Callers, db: Session, hours: str
) -> None:
    errors = refused(client, callers, db, cabin_body(opening_hours=hours))
    assert "OSM opening_hours" in errors["opening_hours"]


def test_staff_hours_not_in_osm_syntax(client: TestClient, callers: Callers, db: Session) -> None:
    errors = refused(client, callers, db, cabin_body(siting__staff_hours="9h-19h"))
    assert "siting.staff_hours" in errors


@pytest.mark.parametrize(
    "hours", ["24/7", "Mo-Fr 08:00-12:00,14:00-19:00; PH off", "Sa 09:00-12:00"]
)
def test_valid_opening_hours(hours: str) -> None:
    assert opening_hours_problem(hours) is None


@pytest.mark.parametrize(
    "path",
    [
        "declarations__ars_declaration_date",
        "declarations__cpam_informed_date",
        "siting__responsible_person__trained_on_date",
    ],
)
def test_dates_in_the_future(client: TestClient, callers: Callers, db: Session, path: str) -> None:
    errors = refused(client, callers, db, cabin_body(**{path: TOMORROW}))
    field = path.replace("__", ".")
    assert errors[field] == f"{TOMORROW} is in the future"


def test_unknown_field_is_refused(client: TestClient, callers: Callers, db: Session) -> None:
    errors = refused(client, callers, db, cabin_body(venue__colour="blue"))
    assert "venue.colour" in errors


def test_venue_kind_outside_the_closed_list(
    client: TestClient, callers: Callers, db: Session
) -> None:
    assert "venue.kind" in refused(client, callers, db, cabin_body(venue__kind="casino"))


def test_all_failures_come_together(client: TestClient, callers: Callers, db: Session) -> None:
    body = cabin_body(
        venue__siret="73282932000075",
        opening_hours="whenever",
        location={**LYON, "declared_insee": "75056"},
    )
    errors = refused(client, callers, db, body)
    assert {"venue.siret", "opening_hours", "location.declared_insee"} <= errors.keys()


def test_the_owner_is_checked_with_the_rest_of_the_record(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """Naming another operator was refused only once the record was otherwise valid: the
    operator fixed its SIRET, resubmitted, and only then learnt of the owner."""
    body = cabin_body(venue__siret="73282932000075", operator_id=str(callers.other_operator_id))
    errors = refused(client, callers, db, body)
    assert errors["operator_id"] == "not your operator; leave it out"
    assert "SIRET" in errors["venue.siret"]

    as_admin = client.post(
        "/v1/cabins", json=cabin_body(opening_hours="whenever"), headers=callers.admin
    )
    assert as_admin.status_code == 422
    fields = {e["field"]: e["reason"] for e in as_admin.json()["errors"]}
    assert fields["operator_id"] == "required with an admin key"
    assert "opening_hours" in fields


def test_location_check_runs_over_a_table(db: Session) -> None:
    """The importer's way: one statement over a staging table."""
    db.execute(
        text(
            "CREATE TEMP TABLE staging (key text, lon float8, lat float8, declared_insee text)"
            " ON COMMIT DROP"
        )
    )
    db.execute(
        text(
            "INSERT INTO staging VALUES ('ok', 2.3522, 48.8566, '75056'),"
            " ('swapped', 48.8566, 2.3522, '75056'), ('sea', -5.5, 47.0, '29019'),"
            " ('mismatch', 4.8357, 45.764, '75056')"
        )
    )
    results = {r.key: r for r in check_locations_in(db, "staging AS s")}
    assert results["ok"].errors == [] and results["ok"].commune_insee == "75056"
    assert "swapped" in results["swapped"].errors[0]["reason"]
    assert "not in France" in results["sea"].errors[0]["reason"]
    assert results["mismatch"].commune_insee == "69123"
    assert "Lyon (69123)" in results["mismatch"].errors[0]["reason"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("accessibility__entree_largeur_mini", True),
        ("accessibility__turning_diameter_cm", False),
        ("fees__base_fee_eur", True),
        ("venue__cabin_count", True),
        ("location__lon", True),
    ],
)
def test_a_boolean_is_not_a_number(
    client: TestClient, callers: Callers, db: Session, path: str, value: bool
) -> None:
    errors = refused(client, callers, db, cabin_body(**{path: value}))
    field = path.replace("__", ".")
    assert errors[field] == f"must be a number, not {str(value).lower()}"


def test_a_measurement_given_as_text_is_still_read(client: TestClient, callers: Callers) -> None:
    body = cabin_body(accessibility__entree_largeur_mini="95.5")
    response = client.post("/v1/cabins", json=body, headers=callers.operator)
    assert response.status_code == 201, response.text
    assert response.json()["accessibility"]["entree_largeur_mini"] == 95.5


@pytest.mark.parametrize(
    ("field", "value"), [("lon", float("nan")), ("lat", float("inf")), ("lon", float("-inf"))]
)
def test_a_coordinate_that_is_not_finite_is_refused_naming_it(
    client: TestClient, callers: Callers, db: Session, field: str, value: float
) -> None:
    # json.dumps writes NaN / Infinity, and the request's JSON parser reads them.
    body = json.dumps(cabin_body(**{f"location__{field}": value}))
    assert "NaN" in body or "Infinity" in body
    before = db.scalar(select(func.count()).select_from(Cabin))
    response = client.post(
        "/v1/cabins", content=body, headers={**callers.operator, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors == {f"location.{field}": "must be a finite number"}
    assert db.scalar(select(func.count()).select_from(Cabin)) == before


def test_a_measurement_that_is_not_finite_is_refused(
    client: TestClient, callers: Callers, db: Session
) -> None:
    errors = refused(client, callers, db, cabin_body(accessibility__path_width_cm="NaN"))
    assert errors == {"accessibility.path_width_cm": "must be a finite number"}


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (
            "Mo-Fr 25:00-26:00",
            "not in OSM opening_hours syntax at character 7 (near '25:00-26:00'): expected",
        ),
        ("Mo-Zz 08:00-12:00", "at character 4 (near 'Zz 08:00-12:00'): expected a weekday"),
        ("Mo-Fr 08:00-", "at character 13 (at the end): expected extended time"),
        ("Mo 08:00-48:01", "not in OSM opening_hours syntax: invalid extended time for 48:01"),
    ],
)
def test_opening_hours_problem_says_what_and_where(hours: str, expected: str) -> None:
    problem = opening_hours_problem(hours)
    assert problem is not None and expected in problem
    assert "position )" not in problem and not problem.endswith(": ")
    assert "EOI" not in problem and "_" not in problem.split(":", 1)[-1].split("'")[-1]


# --- a type error does not hide the record's other errors --------------------------------


def test_a_type_error_does_not_hide_the_record_level_errors(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """An INSEE code that lost its leading zero and a malformed date are type errors; the bad
    SIRET key, the opening hours and the date in the future are found in the same answer."""
    body = cabin_body(
        location__declared_insee="1053",
        venue__siret="73282932000075",
        opening_hours="Mo-Fr 25:00-26:00",
        declarations__cpam_informed_date=TOMORROW,
        siting__responsible_person__trained_on_date="2026-02-30",
    )
    errors = refused(client, callers, db, body)
    assert set(errors) == {
        "location.declared_insee",
        "venue.siret",
        "opening_hours",
        "declarations.cpam_informed_date",
        "siting.responsible_person.trained_on_date",
    }
    assert errors["location.declared_insee"].startswith("must be an INSEE commune code")
    assert "Luhn" in errors["venue.siret"]
    assert errors["declarations.cpam_informed_date"] == f"{TOMORROW} is in the future"


def test_the_point_is_still_checked_when_another_field_fails_its_type(
    client: TestClient, callers: Callers, db: Session
) -> None:
    body = cabin_body(location={**LYON, "declared_insee": "75056"}, venue__siret="7328293200007")
    errors = refused(client, callers, db, body)
    assert errors == {
        "venue.siret": "must be a SIRET of 14 digits",
        "location.declared_insee": "the point is not in Paris (75056): it falls in Lyon (69123)",
    }


@pytest.mark.parametrize(
    ("overrides", "only"),
    [
        # no "description required when kind is 'autre'" for a kind that could not be read
        ({"venue__kind": "kiosque"}, "venue.kind"),
        # a partner whose SIRET is malformed has an identifier: no "needs an identifier"
        ({"care_links": [{"kind": "pharmacie", "siret": "123"}]}, "care_links.0.siret"),
        # a slope out of range is not a missing slope
        (
            {"accessibility__ramp_slope_pct": 150, "accessibility__ramp_length_cm": 300},
            "accessibility.ramp_slope_pct",
        ),
        # no "end before start" against a start date that could not be read
        (
            {"provider": {"agrement_start_date": "2020-02-30", "agrement_end_date": "2019-01-01"}},
            "provider.agrement_start_date",
        ),
    ],
)
def test_no_record_level_consequence_of_a_field_that_failed_its_type(
    client: TestClient, callers: Callers, db: Session, overrides: dict, only: str
) -> None:
    body = cabin_body(**overrides)
    if "venue__kind" in overrides:
        body["venue"].pop("description", None)
    assert set(refused(client, callers, db, body)) == {only}


def test_a_patch_with_a_type_error_lists_the_record_level_errors_too(
    client: TestClient, callers: Callers, db: Session
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    response = client.patch(
        f"/v1/cabins/{created['id']}",
        json={
            "venue": {"siret": "73282932000075"},
            "declarations": {"cpam_informed_date": "20-01-2026", "cpts_informed_date": TOMORROW},
        },
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "venue.siret",
        "declarations.cpam_informed_date",
        "declarations.cpts_informed_date",
    }
    cabin = db.get(Cabin, created["id"])
    assert cabin is not None and cabin.version == 1


def _reasons(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_a_type_error_reads_the_same_on_every_write(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """A field left out, a word where a whole number goes, a number where text goes: the
    same words on a cabin POST and PATCH, an import row (NDJSON and CSV), and an operator's
    or a client's creation (which said Pydantic's "Field required")."""
    missing = "required: it is missing or empty"
    whole = "must be a whole number, e.g. 2"
    text = "must be text (a string)"
    body = cabin_body("W-1", venue__cabin_count="two", venue__name=12)
    del body["operator_reference"]
    posted = _reasons(client.post("/v1/cabins", json=body, headers=callers.operator))

    created = client.post("/v1/cabins", json=cabin_body("W-2"), headers=callers.operator)
    patch = {"operator_reference": None, "venue": {"cabin_count": "two", "name": 12}}
    patched = _reasons(
        client.patch(
            f"/v1/cabins/{created.json()['id']}",
            json=patch,
            headers={**callers.operator, "If-Match": '"1"'},
        )
    )
    line = json.dumps(body).encode()
    ndjson = client.post(
        "/v1/cabins/import",
        content=line,
        headers={**callers.operator, "Content-Type": "application/x-ndjson"},
    )
    csv = (
        "operator_reference;location.lon;location.lat;location.declared_insee;venue.kind;"
        "venue.cabin_count\n;2.3522;48.8566;75056;pharmacie_officine;two\n"
    )
    in_csv = client.post(
        "/v1/cabins/import",
        content=csv.encode(),
        headers={**callers.operator, "Content-Type": "text/csv"},
    )
    operator = _reasons(client.post("/v1/operators", json={"name": 12}, headers=callers.admin))
    new_client = _reasons(
        client.post("/v1/clients", json={"role": "admin", "name": 12}, headers=callers.admin)
    )

    expected = {"operator_reference": missing, "venue.cabin_count": whole, "venue.name": text}
    assert posted == patched == _reasons(ndjson) == expected
    assert _reasons(in_csv) == {"operator_reference": missing, "venue.cabin_count": whole}
    assert operator == {"name": text, "siren": missing}
    assert new_client == {"name": text}
