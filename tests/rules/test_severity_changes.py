"""A rule whose severity changes while its outcome does not (a publication making SIT-03 an
error): the verdicts are rewritten and each gets a history row with the same old and new
outcome and the new severity, which the change feed serves; the counts of changed outcomes,
`failing_since`, `changed_at` and the as-of reads do not take it for an outcome change."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.rules.evaluator import evaluate_cabins
from service.rules.models import Verdict, VerdictChange
from service.rules.schemas import RuleChange
from tests.auth.factories import bearer, make_key, make_operator
from tests.rules.conftest import T0, T1, derive_and_publish
from tests.rules.factories import good_siting, insert_cabin


def workplace(db: Session, operator) -> object:
    """A cabin in a workplace: SIT-03 (a care place, a warning in 2025.1) fails."""
    return insert_cabin(
        db,
        operator,
        venue_kind="entreprise",
        siting=good_siting() | {"assistance_modes": ["trained_staff"]},
    )


def history(db: Session, cabin, code: str) -> list[tuple]:
    return list(
        db.execute(
            select(
                VerdictChange.old_outcome,
                VerdictChange.new_outcome,
                VerdictChange.severity,
                VerdictChange.rule_set_version,
                VerdictChange.changed_at,
            )
            .where(VerdictChange.cabin_id == cabin, VerdictChange.rule_code == code)
            .order_by(VerdictChange.id)
        ).tuples()
    )


def test_a_severity_changed_alone_writes_one_history_row_per_verdict(
    db: Session, engine_rules
) -> None:
    """The publication rewrote the verdicts with the new severity and wrote no history row:
    the change feed, which serves the history, never told the new severity."""
    operator = make_operator(db)
    failing = workplace(db, operator)
    passing = insert_cabin(db, operator)
    evaluate_cabins(db, None, at=T0)

    report = derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))

    assert history(db, failing, "SIT-03") == [
        (None, "fail", "warning", "2025.1", T0),
        ("fail", "fail", "error", "2025.2", T1),
    ]
    assert history(db, passing, "SIT-03") == [
        (None, "pass", "warning", "2025.1", T0),
        ("pass", "pass", "error", "2025.2", T1),
    ]
    # No outcome moved: none is counted as changed; both verdicts were rewritten.
    assert (report.rules["SIT-03"].changed, report.rules["SIT-03"].rewritten) == (0, 2)
    assert report.changed == 0
    sit03 = db.get(Verdict, (failing, "SIT-03"))
    assert (sit03.severity, sit03.failing_since) == ("error", T0)
    # The other rules' severities did not change: no row for them.
    assert len(history(db, failing, "SIT-01")) == 1


def test_nothing_is_written_when_neither_outcome_nor_severity_changes(
    db: Session, engine_rules
) -> None:
    operator = make_operator(db)
    cabin = workplace(db, operator)
    evaluate_cabins(db, None, at=T0)
    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    rows = db.scalar(text("SELECT count(*) FROM verdict_change"))

    for report in (
        evaluate_cabins(db, None, at=T1 + timedelta(days=1)),
        evaluate_cabins(db, [cabin], at=T1 + timedelta(days=2)),
        # the same severity again, under a new rule set
        derive_and_publish(
            db, "2025.3", T1 + timedelta(days=3), SIT_03=RuleChange(severity="error")
        ),
    ):
        assert report.rules["SIT-03"].changed == 0
        assert db.scalar(text("SELECT count(*) FROM verdict_change")) == rows


def test_a_cabins_own_pass_counts_a_severity_change_as_no_outcome_change(
    db: Session, engine_rules
) -> None:
    """The one-statement pass of a few cabins shares the writing: a verdict stored with
    another severity than the rule set's gets its history row, and no changed count."""
    operator = make_operator(db)
    cabin = workplace(db, operator)
    evaluate_cabins(db, [cabin], at=T0)
    db.execute(
        text("UPDATE verdict SET severity = 'error' WHERE cabin_id = :id AND rule_code = 'SIT-03'"),
        {"id": cabin},
    )
    report = evaluate_cabins(db, [cabin], at=T1)
    assert (report.rules["SIT-03"].changed, report.rules["SIT-03"].rewritten) == (0, 1)
    assert history(db, cabin, "SIT-03")[-1] == ("fail", "fail", "warning", "2025.1", T1)


def test_failing_since_and_the_as_of_answer_skip_a_severity_change(
    db: Session, engine_rules, client: TestClient
) -> None:
    """The cabin has failed SIT-03 since T0; its severity became error at T1."""
    operator = make_operator(db)
    cabin = workplace(db, operator)
    evaluate_cabins(db, [cabin], at=T0)
    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    key = bearer(make_key(db, "operator", operator_id=operator))

    def sit03(at: str | None = None) -> dict:
        params = {"at": at} if at else {}
        r = client.get(f"/v1/cabins/{cabin}/compliance", params=params, headers=key)
        assert r.status_code == 200, r.text
        body = r.json()
        [verdict] = [v for v in body["verdicts"] if v["rule_code"] == "SIT-03"]
        return body | {"sit03": verdict}

    now = sit03()
    assert now["compliance_status"] == "non_compliant"
    assert now["sit03"]["severity"] == "error"
    assert now["sit03"]["failing_since"].startswith("2025-06-01")
    assert now["sit03"]["changed_at"].startswith("2025-06-01")

    for day, severity, status in (
        (T1.date(), "error", "non_compliant"),
        (T1.date() + timedelta(days=1), "error", "non_compliant"),
        (T1.date() - timedelta(days=1), "warning", "compliant"),
    ):
        that_day = sit03(day.isoformat())
        assert that_day["compliance_status"] == status
        assert that_day["sit03"]["severity"] == severity
        assert that_day["sit03"]["outcome"] == "fail"
        assert that_day["sit03"]["failing_since"].startswith("2025-06-01")
        assert that_day["sit03"]["rule_set_version"] == "2025.1"
