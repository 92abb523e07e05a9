"""The evaluator: writing only what changed, the report of a publication, the history and
as-of reads, compliance status derivation."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.db import local_setting
from service.rules.evaluator import evaluate_cabins
from service.rules.models import CabinCompliance, Verdict, VerdictChange
from service.rules.schemas import RuleChange
from tests.auth.factories import bearer, make_key, make_operator
from tests.rules.conftest import T0, T1, derive_and_publish
from tests.rules.factories import good_siting, insert_cabin, publish_ara_strict


def verdict(db: Session, cabin_id, code: str) -> Verdict:
    return db.get(Verdict, (cabin_id, code))


def test_first_evaluation_writes_one_verdict_per_rule_and_its_history(db: Session, engine_rules):
    cabin = insert_cabin(db)
    report = evaluate_cabins(db, [cabin], at=T0)
    assert set(report.rules) == {f"SIT-0{i}" for i in range(1, 9)}
    assert all(r.first == 1 and r.changed == 0 for r in report.rules.values())
    assert (
        db.scalar(select(func.count()).select_from(Verdict).where(Verdict.cabin_id == cabin)) == 8
    )
    changes = db.scalar(
        select(func.count()).select_from(VerdictChange).where(VerdictChange.cabin_id == cabin)
    )
    assert changes == 8


def test_evaluating_again_without_change_writes_nothing(db: Session, engine_rules):
    cabin = insert_cabin(db)
    evaluate_cabins(db, [cabin], at=T0)
    report = evaluate_cabins(db, [cabin], at=T1)
    assert all(r.rewritten == 0 and r.changed == 0 for r in report.rules.values())
    assert verdict(db, cabin, "SIT-01").evaluated_at == T0


def test_publishing_a_changed_parameter_counts_exactly_the_cabins_that_changed(
    db: Session, engine_rules, client: TestClient
):
    operator = make_operator(db)
    # Declared 30, 3 and 10 days before opening: a 7-day lead time fails only the second.
    early = insert_cabin(db, operator, ars_declaration_date=date(2026, 1, 30))
    late = insert_cabin(db, operator, ars_declaration_date=date(2026, 2, 26))
    ok = insert_cabin(db, operator, ars_declaration_date=date(2026, 2, 19))
    evaluate_cabins(db, None, at=T0)
    assert verdict(db, late, "SIT-01").outcome == "pass"

    report = derive_and_publish(
        db, "2025.2", T1, SIT_01=RuleChange(parameters={"declaration_lead_days": 7})
    )

    assert report.rules["SIT-01"].changed == 1
    assert all(r.changed == 0 for code, r in report.rules.items() if code != "SIT-01")
    assert verdict(db, late, "SIT-01").outcome == "fail"
    assert verdict(db, late, "SIT-01").failing_since == T1
    assert {verdict(db, c, "SIT-01").outcome for c in (early, ok)} == {"pass"}
    assert db.get(CabinCompliance, late).compliance_status == "non_compliant"
    assert db.get(CabinCompliance, late).failing_errors == ["SIT-01"]

    key = make_key(db, "operator", operator_id=operator)
    before = client.get(
        f"/v1/cabins/{late}/compliance", params={"at": "2025-06-05"}, headers=bearer(key)
    )
    assert before.status_code == 200
    body = before.json()
    assert body["rule_set_version"] == "2025.1"
    assert {v["rule_code"]: v["outcome"] for v in body["verdicts"]}["SIT-01"] == "pass"
    assert body["compliance_status"] == "compliant"

    now = client.get(f"/v1/cabins/{late}/compliance", headers=bearer(key)).json()
    sit01 = next(v for v in now["verdicts"] if v["rule_code"] == "SIT-01")
    assert sit01["outcome"] == "fail"
    assert sit01["evidence"]["declaration_lead_days"] == 7
    assert sit01["failing_since"].startswith("2025-06-10")
    assert now["compliance_status"] == "non_compliant"


def test_compliance_status_follows_the_error_rules(db: Session, engine_rules):
    operator = make_operator(db)
    fine = insert_cabin(db, operator)
    outdoor = insert_cabin(db, operator, siting=good_siting() | {"placement": "outdoor"})
    undescribed = insert_cabin(
        db, operator, siting=good_siting() | {"directly_reachable_from_public_space": None}
    )
    # A workplace: not a care place (SIT-03 fails, a warning) but otherwise in order.
    workplace = insert_cabin(
        db,
        operator,
        venue_kind="entreprise",
        siting=good_siting() | {"assistance_modes": ["trained_staff"]},
    )
    evaluate_cabins(db, [fine, outdoor, undescribed, workplace], at=T0)
    status = {c: db.get(CabinCompliance, c) for c in (fine, outdoor, undescribed, workplace)}
    assert status[fine].compliance_status == "compliant"
    assert status[outdoor].compliance_status == "non_compliant"
    assert status[outdoor].failing_errors == ["SIT-05"]
    assert status[undescribed].compliance_status == "incomplete"
    assert status[undescribed].unknown_errors == ["SIT-05"]
    assert status[workplace].compliance_status == "compliant"
    assert status[workplace].failing_warnings == ["SIT-03"]


def test_an_error_failure_outweighs_an_unknown(db: Session, engine_rules):
    cabin = insert_cabin(
        db,
        siting=good_siting() | {"placement": "outdoor", "enclosure": None},
    )
    evaluate_cabins(db, [cabin], at=T0)
    row = db.get(CabinCompliance, cabin)
    assert row.compliance_status == "non_compliant"
    assert row.unknown_errors == ["SIT-08"]


def test_a_regional_profile_changes_severity_and_says_so(db: Session, engine_rules):
    operator = make_operator(db)
    paris = insert_cabin(db, operator, venue_kind="entreprise")
    lyon = insert_cabin(
        db,
        operator,
        venue_kind="entreprise",
        region_code="84",
        departement_code="69",
        commune_insee="69123",
        declared_insee="69123",
        lon=4.8357,
        lat=45.7640,
    )
    publish_ara_strict(db, at=T1)
    assert verdict(db, lyon, "SIT-03").severity == "error"
    assert verdict(db, lyon, "SIT-03").profile == "ara-strict"
    assert verdict(db, lyon, "SIT-03").evidence["profile"] == "ara-strict"
    assert verdict(db, paris, "SIT-03").severity == "warning"
    assert db.get(CabinCompliance, lyon).compliance_status == "non_compliant"
    assert db.get(CabinCompliance, paris).compliance_status == "compliant"


def test_disabling_a_rule_removes_its_verdicts_and_closes_them_in_the_history(
    db: Session, engine_rules
):
    cabin = insert_cabin(db, siting=good_siting() | {"placement": "outdoor"})
    evaluate_cabins(db, [cabin], at=T0)
    assert db.get(CabinCompliance, cabin).compliance_status == "non_compliant"
    derive_and_publish(db, "2025.4", T1, SIT_05=RuleChange(enabled=False))
    assert verdict(db, cabin, "SIT-05") is None
    assert db.get(CabinCompliance, cabin).compliance_status == "compliant"
    last = db.scalars(
        select(VerdictChange)
        .where(VerdictChange.cabin_id == cabin, VerdictChange.rule_code == "SIT-05")
        .order_by(VerdictChange.id.desc())
    ).first()
    assert (last.old_outcome, last.new_outcome) == ("fail", "not_applicable")


def test_the_rules_are_handed_out_costliest_first_and_each_once():
    from concurrent.futures import ThreadPoolExecutor

    from service.rules.parallel import RULE_COST, RuleQueue

    queue = RuleQueue(sorted(RULE_COST))
    assert queue.take() == max(RULE_COST, key=lambda c: RULE_COST[c])

    def drain(_: int) -> list[str]:
        taken = []
        while (code := queue.take()) is not None:
            taken.append(code)
        return taken

    with ThreadPoolExecutor(max_workers=4) as pool:
        taken = [code for part in pool.map(drain, range(4)) for code in part]
    assert len(taken) == len(RULE_COST) - 1 and len(set(taken)) == len(taken)
    assert RuleQueue([]).take() is None


def test_the_passs_setting_holds_for_its_statements_and_the_transactions_comes_back(
    db: Session,
):
    db.execute(text("SET LOCAL jit = on"))
    with local_setting(db, "jit", "off"):
        assert db.scalar(text("SHOW jit")) == "off"
    assert db.scalar(text("SHOW jit")) == "on"
    with local_setting(db, "jit", None):
        assert db.scalar(text("SHOW jit")) == "on"


def test_the_report_of_a_publication_counts_the_verdicts_of_a_disabled_rule(
    db: Session, engine_rules
):
    """Disabling a rule removes its verdicts, which can turn cabins compliant: the report
    listed only the enabled rules, so a dry run of `SIT-05: enabled: false` said nothing of
    SIT-05."""
    outdoor = insert_cabin(db, siting=good_siting() | {"placement": "outdoor"})
    fine = insert_cabin(db)
    evaluate_cabins(db, [outdoor, fine], at=T0)
    stored = db.scalar(
        select(func.count()).select_from(Verdict).where(Verdict.rule_code == "SIT-05")
    )
    failing = db.scalar(
        select(func.count())
        .select_from(Verdict)
        .where(Verdict.rule_code == "SIT-05", Verdict.outcome == "fail")
    )
    assert failing >= 1

    report = derive_and_publish(db, "2025.4", T1, SIT_05=RuleChange(enabled=False))

    assert "SIT-05" not in report.rules
    assert report.as_dict()["retired"] == {"SIT-05": {"removed": stored, "failing": failing}}


def test_the_report_of_a_publication_counts_the_cabins_by_compliance_before_and_after(
    db: Session, engine_rules
):
    """What an admin asks of a dry run first: how many cabins would turn non-compliant."""
    operator = make_operator(db)
    workplace = insert_cabin(
        db,
        operator,
        venue_kind="entreprise",
        siting=good_siting() | {"assistance_modes": ["trained_staff"]},
    )
    evaluate_cabins(db, [workplace], at=T0)
    counts = dict(
        db.execute(
            select(CabinCompliance.compliance_status, func.count()).group_by(
                CabinCompliance.compliance_status
            )
        ).all()
    )

    report = derive_and_publish(db, "2025.5", T1, SIT_03=RuleChange(severity="error"))

    compliance = report.as_dict()["compliance"]
    assert compliance["compliant"] == {
        "before": counts.get("compliant", 0),
        "after": counts.get("compliant", 0) - 1,
    }
    assert compliance["non_compliant"] == {
        "before": counts.get("non_compliant", 0),
        "after": counts.get("non_compliant", 0) + 1,
    }
