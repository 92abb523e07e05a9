"""A verdict's fingerprint stands for its evidence: the evaluator compares fingerprints
instead of building every cabin's evidence, so whatever moves the evidence must move the
fingerprint, and a verdict rewritten for its fingerprint alone keeps its dates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, column, literal, null, select, text, update, values
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer, Text

from service.cabins.models import Cabin
from service.rules.catalogue.sqlkit import jobj
from service.rules.evaluator import evaluate_cabins
from service.rules.fingerprint import fingerprint
from service.rules.models import Verdict
from service.rules.schemas import RuleChange
from tests.rules.conftest import T0, T1, derive_and_publish
from tests.rules.factories import insert_cabin

ROWS = values(column("name", Text), column("n", Integer), name="row_values").data(
    [("a", 1), ("a", 1), ("b", 1), (None, None), (None, None)]
)


def fingerprints(db: Session, evidence: Any) -> list[int]:
    return list(db.scalars(select(fingerprint(evidence)).select_from(ROWS)))


def test_equal_values_give_equal_fingerprints_and_any_value_moves_it(db: Session):
    n = ROWS.c
    same_a, same_a_again, b, *_ = fingerprints(db, jobj(name=n.name, n=n.n))
    assert same_a == same_a_again
    assert b != same_a


def test_the_constants_and_the_shape_are_in_the_fingerprint(db: Session):
    n = ROWS.c
    first = fingerprints(db, jobj(name=n.name, threshold=100))
    assert fingerprints(db, jobj(name=n.name, threshold=100)) == first
    assert fingerprints(db, jobj(name=n.name, threshold=200))[0] != first[0]  # a parameter
    assert fingerprints(db, jobj(label=n.name, threshold=100))[0] != first[0]  # a key
    assert fingerprints(db, jobj(name=jobj(name=n.name), threshold=100))[0] != first[0]
    # values all missing still carry the constants (a NULL hashes to zero)
    assert fingerprints(db, jobj(name=n.name, threshold=200))[3] != first[3]


def test_a_part_built_in_some_cases_only_tells_its_branches_apart(db: Session):
    n = ROWS.c
    evidence = jobj(
        part=case(
            (n.n == 1, jobj(found=n.name)),
            (n.name.is_(None), jobj(missing=literal("name"))),
            else_=null(),
        ),
        other=case((n.n == 1, jobj(missing=n.name)), else_=jobj(found=n.name)),
    )
    a, a_again, b, none, _ = fingerprints(db, evidence)
    assert a == a_again and len({a, b, none}) == 3
    text_only = case((n.n == 1, n.name), else_=literal("none"))
    assert len(set(fingerprints(db, jobj(reason=text_only)))) == 3


def verdict(db: Session, cabin_id, code: str) -> Verdict:
    db.expire_all()
    return db.get(Verdict, (cabin_id, code))


def test_a_change_that_moves_only_the_evidence_is_written(db: Session, engine_rules):
    cabin = insert_cabin(db)  # a pharmacy: SIT-03 passes on its kind, FINESS or not
    evaluate_cabins(db, [cabin], at=T0)
    assert verdict(db, cabin, "SIT-03").evidence.get("venue_finess") is None

    db.execute(update(Cabin).where(Cabin.id == cabin).values(venue_finess="750000001"))
    report = evaluate_cabins(db, None, at=T1)

    assert report.rules["SIT-03"].rewritten == 1 and report.rules["SIT-03"].changed == 0
    sit03 = verdict(db, cabin, "SIT-03")
    assert (sit03.outcome, sit03.evidence["venue_finess"]) == ("pass", "750000001")
    assert sit03.evaluated_at == T1
    assert sum(r.rewritten for r in report.rules.values()) == 1


def test_a_parameter_shown_in_the_evidence_rewrites_it_without_changing_outcomes(
    db: Session, engine_rules
):
    cabins = [insert_cabin(db), insert_cabin(db, venue_kind="grande_surface")]
    evaluate_cabins(db, None, at=T0)
    naf = ["47.11B", "47.11C", "47.11D", "47.11E", "47.11F", "47.19B", "52.21Z", "47.11A"]

    report = derive_and_publish(
        db, "2025.2", T1, SIT_04=RuleChange(parameters={"excluded_naf": naf})
    )

    assert report.rules["SIT-04"].rewritten == 2 and report.rules["SIT-04"].changed == 0
    for cabin in cabins:
        sit04 = verdict(db, cabin, "SIT-04")
        assert sit04.evidence["excluded_naf"] == naf
        assert sit04.rule_set_version == "2025.2"
    assert all(r.rewritten == 0 for code, r in report.rules.items() if code != "SIT-04")


def test_a_verdict_rewritten_for_its_fingerprint_alone_keeps_its_dates(db: Session, engine_rules):
    cabin = insert_cabin(db, ars_declaration_date=None)  # SIT-01 fails
    evaluate_cabins(db, [cabin], at=T0)
    before = verdict(db, cabin, "SIT-01")
    assert before.fingerprint is not None and before.outcome == "fail"
    evidence = before.evidence
    # as after the migration that added the column, or a change in how evidence is assembled
    db.execute(text("UPDATE verdict SET fingerprint = NULL WHERE cabin_id = :c"), {"c": cabin})

    report = evaluate_cabins(db, None, at=T1)

    assert all(r.rewritten == 1 and r.changed == 0 for r in report.rules.values())
    after = verdict(db, cabin, "SIT-01")
    assert after.fingerprint is not None and after.evidence == evidence
    assert (after.evaluated_at, after.failing_since, after.rule_set_version) == (
        T0,
        T0,
        engine_rules,
    )
