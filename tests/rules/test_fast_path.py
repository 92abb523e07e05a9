"""A write's evaluation (every rule in one statement, its constants written inline, prepared
on the connection) and the set-based pass (one statement per rule over any set of cabins)
give the same verdicts: same outcome, evidence, severity and profile, so that either one run
after the other, at the same evaluation time, rewrites nothing (the freshness evidence counts
the days up to the evaluation time)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.rules import evaluator, rulesets
from service.rules.models import Verdict
from service.rules.schemas import Profile, ProfileRule, RuleSetCreate
from tests.rules.catalogue.factories import (
    add_cpts,
    add_health_site,
    add_zone,
    fresh_layer,
    make_cabin,
    make_operator,
)
from tests.rules.factories import good_siting

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REUNION = (55.4475, -20.9433, "97411")
LYON = (4.8293, 45.7572, "69123")


@pytest.fixture
def cabins(db: Session) -> list[uuid.UUID]:
    """Cabins that take every rule through several branches: a CPTS, a zoning and a health
    site around Paris, neighbours within a kilometre, a point outside its declared commune,
    one overseas, one decommissioned, one barely described."""
    cpts = fresh_layer(db, "cpts")
    add_cpts(db, cpts, "CPTS-A", ["75056"])
    add_cpts(db, cpts, "CPTS-B", ["92012", "75056"])
    zoning = fresh_layer(db, "medical_zone")
    add_zone(db, zoning, "75056", "ZAC", 3.1)
    sites = fresh_layer(db, "health_site")
    add_health_site(db, sites, "750000001", 2.3203, 48.8573)
    operator = make_operator(db)
    full = {
        "siting": good_siting(),
        "ars_declaration_date": date(2026, 2, 1),
        "ars_declaration_reference": "ARS-IDF-2026-0001",
        "cpam_informed_date": date(2026, 2, 2),
        "opening_hours": "Mo-Fr 09:00-19:00",
        "service_start_date": date(2026, 3, 1),
    }
    return [
        make_cabin(db, operator_id=operator, venue_finess="750000001", **full),
        make_cabin(db, operator_id=operator, offset_m=(300.0, 0.0), **full),
        make_cabin(db, operator_id=operator, offset_m=(0.0, 400.0)),
        make_cabin(db, operator_id=operator, declared_insee=LYON[2]),
        make_cabin(db, REUNION, operator_id=operator, **full),
        make_cabin(db, operator_id=operator, status="decommissioned"),
        make_cabin(db, LYON, operator_id=operator, venue_kind="grande_surface"),
    ]


def stored(db: Session, ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, str], tuple]:
    rows = db.execute(
        select(Verdict).where(Verdict.cabin_id.in_(ids)).order_by(Verdict.cabin_id)
    ).scalars()
    return {
        (v.cabin_id, v.rule_code): (v.outcome, v.evidence, v.severity, v.profile, v.failing_since)
        for v in rows
    }


def set_based(db: Session, ids: list[uuid.UUID], at: datetime) -> evaluator.EvaluationReport:
    """The per-rule statements over these cabins (what an import or a publication runs)."""
    saved = evaluator.ONE_STATEMENT_MAX_CABINS
    evaluator.ONE_STATEMENT_MAX_CABINS = 0
    try:
        return evaluator.evaluate_cabins(db, ids, at=at)
    finally:
        evaluator.ONE_STATEMENT_MAX_CABINS = saved


def assert_nothing_rewritten(report: evaluator.EvaluationReport) -> None:
    assert len(report.rules) == 20
    rewritten = {code: r.rewritten for code, r in report.rules.items() if r.rewritten}
    assert rewritten == {}, "the two paths disagree on these rules"
    assert report.changed == 0


def test_a_write_then_the_set_based_pass_rewrites_nothing(db: Session, cabins):
    for cabin_id in cabins:
        evaluator.evaluate_cabins(db, [cabin_id], at=T0)
    first = stored(db, cabins)
    assert len(first) == 20 * len(cabins)
    outcomes = {outcome for outcome, *_ in first.values()}
    assert {"pass", "fail", "unknown", "not_applicable"} <= outcomes

    assert_nothing_rewritten(set_based(db, cabins, T0))
    assert stored(db, cabins) == first


def test_the_set_based_pass_then_a_write_rewrites_nothing(db: Session, cabins):
    set_based(db, cabins, T0)
    first = stored(db, cabins)
    for cabin_id in cabins:
        assert_nothing_rewritten(evaluator.evaluate_cabins(db, [cabin_id], at=T0))
    # a few cabins at once (a small import) take the same one-statement path by `ids`
    assert_nothing_rewritten(evaluator.evaluate_cabins(db, cabins, at=T0))
    assert stored(db, cabins) == first


def test_the_paths_agree_under_a_regional_profile(db: Session, cabins):
    rulesets.derive(
        db,
        RuleSetCreate(
            version="2026.90",
            title="Île-de-France: saturation within 500 m, SIT-10 a warning",
            profiles=[
                Profile(
                    name="idf-dense",
                    regions=["11"],
                    rules={"SIT-10": ProfileRule(severity="warning", parameters={"radius_m": 500})},
                )
            ],
        ),
        actor=CLI_ACTOR,
    )
    rulesets.publish(db, "2026.90", actor=CLI_ACTOR, at=T0)  # the set-based pass over every cabin
    first = stored(db, cabins)
    paris = first[(cabins[0], "SIT-10")]
    assert paris[2:4] == ("warning", "idf-dense")
    assert first[(cabins[-1], "SIT-10")][3] is None  # Lyon: the national parameters
    for cabin_id in cabins:
        assert_nothing_rewritten(evaluator.evaluate_cabins(db, [cabin_id], at=T0))
    assert stored(db, cabins) == first


def test_the_write_statement_is_rendered_once_per_rule_set_and_day(db: Session, cabins):
    evaluator.evaluate_cabins(db, [cabins[0]], at=T0)
    cached = dict(evaluator._FEW_CABINS)
    evaluator.evaluate_cabins(db, [cabins[1]], at=T0)
    assert cached == evaluator._FEW_CABINS
    sql = next(iter(v for k, v in cached.items() if k[1] == T0.date()))[1]
    assert "%(cabin_id)s" in sql and "%(at)s" in sql
