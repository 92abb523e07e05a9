"""SIT-05 (not on the public space), SIT-07 (responsible person during the opening hours),
SIT-08 (confidentiality enclosure): a passing, a failing and an unknown case each."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.rules.factories import good_siting, insert_cabin, outcome_of


def with_siting(db: Session, **changes) -> object:
    return insert_cabin(db, siting=good_siting() | changes)


def test_sit05_passes_inside_a_building(db: Session):
    assert outcome_of(db, "SIT-05", insert_cabin(db))[0] == "pass"


def test_sit05_fails_outdoors_and_when_reachable_from_the_street(db: Session):
    assert outcome_of(db, "SIT-05", with_siting(db, placement="outdoor"))[0] == "fail"
    cabin = with_siting(db, directly_reachable_from_public_space=True)
    outcome, evidence = outcome_of(db, "SIT-05", cabin)
    assert outcome == "fail"
    assert evidence["directly_reachable_from_public_space"] is True


def test_sit05_is_unknown_without_the_placement(db: Session):
    outcome, evidence = outcome_of(db, "SIT-05", with_siting(db, placement=None))
    assert outcome == "unknown"
    assert evidence["missing"] == ["siting.placement"]


def test_sit07_passes_when_staff_hours_cover_the_opening_hours(db: Session):
    outcome, evidence = outcome_of(db, "SIT-07", insert_cabin(db))
    assert outcome == "pass"
    assert evidence["coverage_ratio"] == 1.0


def test_sit07_fails_when_staff_leave_before_the_cabin_closes(db: Session):
    cabin = insert_cabin(
        db,
        opening_hours="Mo-Fr 09:00-19:00",
        siting=good_siting() | {"staff_hours": "Mo-Fr 09:00-17:00"},
    )
    outcome, evidence = outcome_of(db, "SIT-07", cabin)
    assert outcome == "fail"
    assert evidence["coverage_ratio"] == 0.8
    assert outcome_of(db, "SIT-07", cabin, min_coverage_ratio=0.75)[0] == "pass"


def test_sit07_fails_when_the_person_is_not_bound_by_secrecy(db: Session):
    person = good_siting()["responsible_person"] | {"bound_by_secrecy": False}
    assert outcome_of(db, "SIT-07", with_siting(db, responsible_person=person))[0] == "fail"


def test_sit07_is_unknown_without_staff_hours(db: Session):
    outcome, evidence = outcome_of(db, "SIT-07", with_siting(db, staff_hours=None))
    assert outcome == "unknown"
    assert "siting.staff_hours" in evidence["missing"]


def test_sit07_is_unknown_for_hours_it_cannot_compare(db: Session):
    cabin = insert_cabin(db, opening_hours="sunrise-sunset")
    outcome, evidence = outcome_of(db, "SIT-07", cabin)
    assert outcome == "unknown"
    assert "cannot compare" in evidence["reason"]


def test_week_minutes_follow_osm_rules(db: Session):
    minutes = db.execute(
        text(
            "SELECT rules_minutes(rules_week_minutes('Mo-Fr 09:00-18:00; Sa 09:00-12:00')),"
            " rules_minutes(rules_week_minutes('24/7')),"
            " rules_minutes(rules_week_minutes('Mo-Su 09:00-12:00; We off')),"
            " rules_minutes(rules_week_minutes('Fr 22:00-02:00'))"
        )
    ).one()
    assert tuple(minutes) == (9 * 60 * 5 + 180, 7 * 24 * 60, 6 * 180, 240)


def test_sit08_passes_in_a_closed_insulated_room(db: Session):
    assert outcome_of(db, "SIT-08", insert_cabin(db))[0] == "pass"


def test_sit08_fails_for_an_open_borne(db: Session):
    outcome, evidence = outcome_of(db, "SIT-08", with_siting(db, enclosure="open_borne"))
    assert outcome == "fail"
    assert evidence["enclosure"] == "open_borne"


def test_sit08_fails_for_a_pharmacist_assisted_closed_cabin_not_in_a_closed_room(db: Session):
    outcome, evidence = outcome_of(db, "SIT-08", with_siting(db, enclosure="closed_cabin"))
    assert outcome == "fail"
    assert "closed room" in evidence["reason"]


def test_sit08_is_unknown_without_sound_insulation_fact(db: Session):
    outcome, evidence = outcome_of(db, "SIT-08", with_siting(db, sound_insulated=None))
    assert outcome == "unknown"
    assert evidence["missing"] == ["siting.sound_insulated"]
