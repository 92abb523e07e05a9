"""The accessibility label the engine stores, for every pair of SIT-17 (venue) and SIT-18
(cabin interior) outcomes, and the same label in the as-of read."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.rules import queries
from service.rules.evaluator import evaluate_cabins, recompute_compliance, reevaluate_all
from service.rules.models import CabinCompliance, Verdict
from service.rules.schemas import RuleChange
from tests.auth.factories import make_operator
from tests.rules.catalogue.test_accessibility import INTERIOR_OK, VENUE_OK
from tests.rules.conftest import T0, T1, derive_and_publish
from tests.rules.factories import insert_cabin

ROOT = Path(__file__).resolve().parents[2]
VENUE = {
    "pass": VENUE_OK,
    "fail": {**VENUE_OK, "path_width_cm": 70},
    "unknown": {},
}
INTERIOR = {
    "pass": INTERIOR_OK,
    "fail": {**INTERIOR_OK, "desk_height_cm": 95},
    "unknown": {},
}
# (venue, interior) → label. The venue decides first: a cabin that cannot be reached is not
# accessible whatever its interior; a label is given only when every outcome of an unknown
# rule would give the same one.
EXPECTED = {
    ("pass", "pass"): "accessible",
    ("pass", "fail"): "partial",
    ("pass", "unknown"): "unknown",
    ("fail", "pass"): "not_accessible",
    ("fail", "fail"): "not_accessible",
    ("fail", "unknown"): "not_accessible",
    ("unknown", "pass"): "unknown",
    ("unknown", "fail"): "unknown",
    ("unknown", "unknown"): "unknown",
}


@pytest.fixture
def accessibility_rules(db: Session) -> str:
    """Rule set 2025.1 in force since T0 with SIT-16..18 only."""
    disabled = {
        f"SIT_{i:02d}": RuleChange(enabled=False) for i in range(1, 21) if i not in (16, 17, 18)
    }
    derive_and_publish(db, "2025.1", T0, **disabled)
    return "2025.1"


def _cabins(db: Session) -> dict[tuple[str, str], uuid.UUID]:
    operator = make_operator(db)
    cabins = {}
    for venue, interior in EXPECTED:
        facts: dict[str, Any] = {**VENUE[venue], **INTERIOR[interior]}
        cabins[venue, interior] = insert_cabin(
            db, operator, venue_building_regime="existing", accessibility=facts
        )
    return cabins


def _outcome(db: Session, cabin_id: uuid.UUID, code: str) -> str:
    return db.get(Verdict, (cabin_id, code)).outcome


def test_the_stored_label_for_every_venue_and_interior_outcome(db: Session, accessibility_rules):
    cabins = _cabins(db)
    evaluate_cabins(db, list(cabins.values()), at=T0)
    for (venue, interior), cabin_id in cabins.items():
        assert (_outcome(db, cabin_id, "SIT-17"), _outcome(db, cabin_id, "SIT-18")) == (
            venue,
            interior,
        )
        stored = db.get(CabinCompliance, cabin_id).accessibility_label
        assert stored == EXPECTED[venue, interior], (venue, interior)
        # the as-of read derives the label, the status and the lists by the same expression
        before = queries.end_of(T1.date())
        verdicts = queries.verdicts_as_of(db, cabin_id, "2025.1", before, region="11")  # Paris
        derived = queries.derive_status(db, verdicts)
        assert derived["accessibility_label"] == stored
        row = db.get(CabinCompliance, cabin_id)
        assert derived == {name: getattr(row, name) for name in derived}


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ({}, "compliant"),
        ({("SIT-01", "error"): "pass", ("SIT-20", "warning"): "fail"}, "compliant"),
        ({("SIT-01", "error"): "unknown", ("SIT-02", "error"): "pass"}, "incomplete"),
        ({("SIT-01", "error"): "unknown", ("SIT-02", "error"): "fail"}, "non_compliant"),
    ],
)
def test_the_derived_status_is_the_stored_ones_expression(
    db: Session, outcomes: dict[tuple[str, str], str], status: str
) -> None:
    verdicts = [
        {"rule_code": code, "severity": severity, "outcome": outcome}
        for (code, severity), outcome in outcomes.items()
    ]
    derived = queries.derive_status(db, verdicts)
    assert derived["compliance_status"] == status
    assert derived["failing_warnings"] == (["SIT-20"] if ("SIT-20", "warning") in outcomes else [])


def test_the_full_pass_stores_the_same_labels(db: Session, accessibility_rules):
    cabins = _cabins(db)
    reevaluate_all(db, at=T1)
    labels = {pair: db.get(CabinCompliance, c).accessibility_label for pair, c in cabins.items()}
    assert labels == EXPECTED


def test_a_label_rule_not_enabled_counts_as_unknown(db: Session, accessibility_rules):
    cabin = insert_cabin(
        db, venue_building_regime="existing", accessibility={**VENUE_OK, **INTERIOR_OK}
    )
    evaluate_cabins(db, [cabin], at=T0)
    assert db.get(CabinCompliance, cabin).accessibility_label == "accessible"
    derive_and_publish(db, "2025.2", T1, SIT_18=RuleChange(enabled=False))
    db.expire_all()
    assert db.get(Verdict, (cabin, "SIT-18")) is None
    assert db.get(CabinCompliance, cabin).accessibility_label == "unknown"
    verdicts = [{"rule_code": "SIT-17", "severity": "warning", "outcome": "pass"}]
    assert queries.derive_status(db, verdicts)["accessibility_label"] == "unknown"


def test_recomputing_compliance_brings_a_label_stored_under_another_rule_in_line(
    db: Session, accessibility_rules
):
    cabins = _cabins(db)
    evaluate_cabins(db, list(cabins.values()), at=T0)
    # as the label was stored before its rule changed: the pass would not rewrite it, its
    # verdicts being unchanged
    old = db.get(CabinCompliance, cabins["fail", "pass"])
    old.accessibility_label = "partial"
    db.flush()
    assert evaluate_cabins(db, None, at=T1).rewritten_cabins == set()
    db.expire_all()
    assert db.get(CabinCompliance, cabins["fail", "pass"]).accessibility_label == "partial"

    assert recompute_compliance(db, at=T1) == 1
    db.expire_all()
    labels = {pair: db.get(CabinCompliance, c).accessibility_label for pair, c in cabins.items()}
    assert labels == EXPECTED
    assert recompute_compliance(db, at=T1) == 0


def test_the_upgrade_relabels_what_the_former_rule_stored(db: Session, accessibility_rules):
    """Revision 0017 recomputes, from the stored verdicts, every label the former rule wrote
    (its downgrade writes them back); the same labels as the engine's."""
    path = ROOT / "alembic" / "versions" / "20261123_0017_accessibility_relabel.py"
    spec = importlib.util.spec_from_file_location("relabel", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    cabins = _cabins(db)
    evaluate_cabins(db, list(cabins.values()), at=T0)
    connection = db.connection()
    connection.execute(text(migration.RELABEL.format(label=migration.FORMER_LABEL)))
    db.expire_all()
    former = {pair: db.get(CabinCompliance, c).accessibility_label for pair, c in cabins.items()}
    assert former["fail", "pass"] == "partial" and former["unknown", "fail"] == "not_accessible"
    connection.execute(text(migration.RELABEL.format(label=migration.LABEL)))
    db.expire_all()
    labels = {pair: db.get(CabinCompliance, c).accessibility_label for pair, c in cabins.items()}
    assert labels == EXPECTED
