"""Fixtures of the rule-engine tests: a rule set with only the rules under test enabled,
published at a fixed past time so as-of reads have a clear before and after."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.rules import rulesets
from service.rules.schemas import RuleChange, RuleSetCreate

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def derive_and_publish(
    db: Session, version: str, at: datetime, **changes: RuleChange
) -> rulesets.evaluator.EvaluationReport:
    rulesets.derive(
        db,
        RuleSetCreate(
            version=version,
            title=f"test rule set {version}",
            rules={code.replace("_", "-"): change for code, change in changes.items()},
        ),
        actor=CLI_ACTOR,
    )
    _rs, report = rulesets.publish(db, version, actor=CLI_ACTOR, at=at)
    return report


@pytest.fixture
def engine_rules(db: Session) -> str:
    """Rule set 2025.1 in force since T0 with SIT-01..08 only (the family modules of the other
    rules are tested on their own)."""
    disabled = {f"SIT_{i:02d}": RuleChange(enabled=False) for i in range(9, 21)}
    derive_and_publish(db, "2025.1", T0, **disabled)
    return "2025.1"
