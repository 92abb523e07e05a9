"""SIT-16 (declared), SIT-17 (venue access), SIT-18 (cabin interior); the label they drive is
tested through the engine (tests/rules/test_label.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import make_cabin, run_rule

VENUE_OK = {
    "entree_plain_pied": True,
    "entree_largeur_mini": 90,
    "threshold_height_cm": 1,
    "path_width_cm": 140,
}
INTERIOR_OK = {
    "turning_diameter_cm": 150,
    "controls_height_min_cm": 95,
    "controls_height_max_cm": 125,
    "desk_height_cm": 78,
    "knee_clearance_depth_cm": 35,
    "knee_clearance_width_cm": 65,
    "knee_clearance_height_cm": 72,
    "usage_space_width_cm": 140,
    "usage_space_depth_cm": 85,
    "seat_or_transfer_possible": True,
    "cabin_door_clear_width_cm": 85,
}
DECLARED = {
    **VENUE_OK,
    **INTERIOR_OK,
    "hearing_loop": False,
    "registre_url": "https://example.org/registre",
}


def _cabin(db: Session, regime: str | None = "existing", **facts: Any) -> Any:
    return make_cabin(db, venue_building_regime=regime, accessibility=facts)


def test_sit16_passes_when_every_required_fact_is_declared(db: Session) -> None:
    complete = _cabin(db, **DECLARED)
    # a false fact is a declared fact; a documented equivalent replaces the turning diameter
    equivalent = _cabin(
        db, **{**DECLARED, "turning_diameter_cm": None, "equivalent_solution_documented": True}
    )
    verdicts = run_rule(db, "SIT-16", [complete, equivalent])
    assert verdicts[complete][0] == verdicts[equivalent][0] == "pass"
    assert verdicts[complete][1]["missing_fields"] == []


def test_sit16_fails_when_facts_are_missing_and_names_them(db: Session) -> None:
    partial = _cabin(db, **{**DECLARED, "hearing_loop": None, "registre_url": None})
    empty = _cabin(db)
    verdicts = run_rule(db, "SIT-16", [partial, empty])
    assert verdicts[partial] == (
        "fail",
        {
            "required_fields": [
                "entree_plain_pied",
                "entree_largeur_mini",
                "cabin_door_clear_width_cm",
                "turning_diameter_cm",
                "controls_height_min_cm",
                "controls_height_max_cm",
                "hearing_loop",
                "registre_url",
            ],
            "missing_fields": ["hearing_loop", "registre_url"],
        },
    )
    # an empty block is incomplete, which is what the rule checks: fail, not unknown
    assert verdicts[empty][0] == "fail"
    assert len(verdicts[empty][1]["missing_fields"]) == 8


def test_sit17_passes_and_fails_by_the_regime_thresholds(db: Session) -> None:
    ok = _cabin(db, "existing", **VENUE_OK)
    # 80 cm: enough for an existing building (77), not for a new one (83)
    existing_80 = _cabin(db, "existing", **{**VENUE_OK, "entree_largeur_mini": 80})
    new_80 = _cabin(db, "new", **{**VENUE_OK, "entree_largeur_mini": 80})
    steep = _cabin(
        db,
        "existing",
        **{**VENUE_OK, "entree_plain_pied": False, "ramp_slope_pct": 9, "ramp_length_cm": 500},
    )
    short_ramp = _cabin(
        db,
        "existing",
        **{**VENUE_OK, "entree_plain_pied": False, "ramp_slope_pct": 9, "ramp_length_cm": 150},
    )
    verdicts = run_rule(db, "SIT-17", [ok, existing_80, new_80, steep, short_ramp])
    assert verdicts[ok][0] == "pass"
    assert verdicts[existing_80][0] == "pass"
    assert verdicts[new_80][0] == "fail"
    assert verdicts[new_80][1]["criteria"]["entrance_width"] == {
        "outcome": "fail",
        "measured_cm": 80.0,
        "min_cm": 83.0,
    }
    assert verdicts[steep][0] == "fail"
    assert verdicts[short_ramp][0] == "pass"  # 10 % allowed over at most 2 m


def test_sit17_unknown_when_facts_or_regime_leave_it_open(db: Session) -> None:
    no_path = _cabin(db, "existing", **{**VENUE_OK, "path_width_cm": None})
    no_regime = _cabin(db, None, **{**VENUE_OK, "entree_largeur_mini": 80})
    no_regime_wide = _cabin(db, None, **VENUE_OK)
    verdicts = run_rule(db, "SIT-17", [no_path, no_regime, no_regime_wide])
    assert verdicts[no_path][0] == "unknown"
    assert verdicts[no_path][1]["criteria"]["path_width"]["outcome"] == "unknown"
    assert verdicts[no_regime][0] == "unknown"
    assert (
        verdicts[no_regime][1]["outcome_if_existing"],
        verdicts[no_regime][1]["outcome_if_new"],
    ) == ("pass", "fail")
    assert verdicts[no_regime_wide][0] == "pass"  # meets the stricter regime


def test_sit18_passes_fails_and_is_unknown_on_the_interior(db: Session) -> None:
    ok = _cabin(db, **INTERIOR_OK, venue_cabin_count=1)
    high = _cabin(db, **{**INTERIOR_OK, "controls_height_max_cm": 150})
    small = _cabin(db, **{**INTERIOR_OK, "turning_diameter_cm": 120})
    unknown = _cabin(db, **{**INTERIOR_OK, "seat_or_transfer_possible": None})
    verdicts = run_rule(db, "SIT-18", [ok, high, small, unknown])
    assert verdicts[ok][0] == "pass"
    assert verdicts[high][0] == "fail"
    assert verdicts[high][1]["criteria"]["controls_height"] == {
        "outcome": "fail",
        "min_measured_cm": 95.0,
        "max_measured_cm": 150.0,
        "range_cm": [90.0, 130.0],
    }
    assert verdicts[small][1]["criteria"]["turning_space"]["outcome"] == "fail"
    assert verdicts[unknown][0] == "unknown"
    assert verdicts[unknown][1]["criteria"]["seat_or_transfer"] == {"outcome": "unknown"}
