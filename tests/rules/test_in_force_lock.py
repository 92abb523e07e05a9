"""Publication and evaluation take turns: a publication or a full pass (after a new layer
vintage, or the batch pass) under way keeps cabin writes' evaluations waiting, so none runs
(and commits) under the set being retired or between a rule's statement and its commit;
and `registry rules reevaluate`, the batch pass over several connections, stores what the
rule set in force gives. These tests use their own connections: the publication stays
uncommitted and is rolled back; the batch pass commits, on cabins it deletes afterwards."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.cli import main
from service.rules import parallel, plan, queries, rulesets
from service.rules.evaluator import evaluate, evaluate_cabins
from service.rules.models import CabinCompliance, Verdict
from service.rules.parallel import reevaluate_all_parallel
from service.rules.schemas import RuleChange, RuleSetCreate
from tests.locks import in_thread, waits_for_a_lock, waits_then_runs
from tests.rules.factories import insert_cabin


def test_a_cabin_write_evaluates_after_a_publication_under_way(
    engine: Engine, committed_operator: uuid.UUID
) -> None:
    with Session(engine) as publishing, Session(engine) as writing:
        rulesets.derive(
            publishing,
            RuleSetCreate(
                version="2026.96",
                title="a publication left open",
                rules={"SIT-10": RuleChange(parameters={"radius_m": 800})},
            ),
            actor=CLI_ACTOR,
        )
        rulesets.publish(
            publishing, "2026.96", actor=CLI_ACTOR
        )  # in force for this transaction only
        cabin_id = insert_cabin(writing, committed_operator)
        # the publication gives up: 2026.1 stays in force
        out = waits_then_runs(
            engine, writing, lambda: evaluate(writing, [cabin_id]), publishing.rollback
        )
        assert out["result"].rule_set_version == "2026.1"
        writing.rollback()


def test_a_cabin_write_evaluates_after_a_new_layer_vintages_re_evaluation(
    engine: Engine, committed_operator: uuid.UUID
) -> None:
    """A new layer vintage's re-evaluation (`registry layers import|load|generate`) is waited
    for like a publication: a cabin evaluated meanwhile could read the previous vintage."""
    from service.territories.cli import _reevaluate

    with engine.connect() as loading, Session(engine) as writing:
        _reevaluate(loading)  # in the load's transaction, left open
        cabin_id = insert_cabin(writing, committed_operator)
        waits_then_runs(engine, writing, lambda: evaluate(writing, [cabin_id]), loading.rollback)
        writing.rollback()


def test_a_full_pass_under_way_holds_publications_and_cabin_writes(
    engine: Engine, committed_operator: uuid.UUID
) -> None:
    """The batch pass holds the set in force exclusively from its plan to its last commit,
    on a connection of its own: a publication and a cabin write's evaluation wait for it,
    while its workers (which do not ask for the lock) run."""
    with (
        Session(engine) as holding,
        Session(engine) as publishing,
        Session(engine) as writing,
    ):
        plan.replace_in_force(holding)  # as the batch pass's first session does
        rulesets.derive(
            publishing,
            RuleSetCreate(version="2026.95", title="a publication that waits"),
            actor=CLI_ACTOR,
        )
        publisher = publishing.scalar(select(text("pg_backend_pid()")))
        writer = writing.scalar(select(text("pg_backend_pid()")))
        cabin_id = insert_cabin(writing, committed_operator)
        published, publication = in_thread(
            lambda: rulesets.publish(publishing, "2026.95", actor=CLI_ACTOR)
        )
        written: threading.Thread | None = None
        write: dict[str, Any] = {}
        try:
            assert waits_for_a_lock(engine, publisher, advisory=True), (
                "the publication did not wait"
            )
            # Only now the write: queued behind the publication, not racing it to the queue.
            written, write = in_thread(lambda: evaluate(writing, [cabin_id]))
            assert waits_for_a_lock(engine, writer, advisory=True), "the cabin write did not wait"
            with Session(engine) as worker:  # a worker of the pass: it runs
                other_cabin = insert_cabin(worker, committed_operator)
                report = evaluate_cabins(worker, [other_cabin])
                assert report.rule_set_version == "2026.1"
                worker.rollback()
        finally:
            holding.rollback()  # the pass is over: the publication, queued first, goes on
            published.join(timeout=120)
            publishing.rollback()  # and gives up; then the write goes on, under 2026.1
            if written is not None:
                written.join(timeout=120)
        assert "error" not in publication, publication
        assert "error" not in write, write
        assert write["result"].rule_set_version == "2026.1"
        writing.rollback()


@pytest.fixture
def committed_cabins(engine: Engine, committed_operator: uuid.UUID) -> list[uuid.UUID]:
    with Session(engine) as session:
        ids = [insert_cabin(session, committed_operator) for _ in range(3)]
        evaluate(session, ids)
        session.commit()
    return ids


def test_registry_rules_reevaluate_brings_stale_verdicts_up_to_date(
    engine: Engine, committed_cabins: list[uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    stale = committed_cabins[0]
    with Session(engine) as session:
        assert session.get(Verdict, (stale, "SIT-04")).outcome == "pass"
        # Changed behind the write path's back: its verdicts are now stale.
        session.execute(
            text("UPDATE cabin SET venue_kind = 'grande_surface' WHERE id = :id"), {"id": stale}
        )
        session.commit()

    assert main(["rules", "reevaluate", "--workers", "2"]) == 0
    report = json.loads(capsys.readouterr().out)

    assert report["rule_set_version"] == "2026.1"
    assert report["rules"]["SIT-04"]["changed"] >= 1
    with Session(engine) as session:
        assert session.get(Verdict, (stale, "SIT-04")).outcome == "fail"
        assert session.get(CabinCompliance, stale).compliance_status == "non_compliant"
        others = [session.get(Verdict, (c, "SIT-04")).outcome for c in committed_cabins[1:]]
        assert others == ["pass", "pass"]
    # Nothing changed since: a second pass rewrites nothing.
    again = reevaluate_all_parallel(engine, workers=2)
    assert all(r.rewritten == 0 for r in again.rules.values())


def test_a_failed_commit_in_the_batch_pass_leaves_compliance_in_line_with_what_was_committed(
    engine: Engine, committed_cabins: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = committed_cabins[0]
    with Session(engine) as session:
        # Every verdict of the cabin is to be rewritten (by every worker), and its stored
        # compliance is wrong: the pass must recompute it from the verdicts it committed.
        session.execute(
            text("UPDATE verdict SET fingerprint = NULL WHERE cabin_id = :id"), {"id": stale}
        )
        session.execute(
            text(
                "UPDATE cabin_compliance SET compliance_status = 'non_compliant',"
                " failing_errors = '{SIT-99}' WHERE cabin_id = :id"
            ),
            {"id": stale},
        )
        session.commit()

    commits = {"n": 0}
    real_commit = Session.commit

    def commit(session: Session) -> None:
        commits["n"] += 1
        if commits["n"] == 2:  # the second worker's commit
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        real_commit(session)

    monkeypatch.setattr(Session, "commit", commit)
    with pytest.raises(OperationalError):
        reevaluate_all_parallel(engine, workers=2)
    monkeypatch.undo()

    with Session(engine) as session:
        fingerprints = session.scalars(
            select(Verdict.fingerprint).where(Verdict.cabin_id == stale)
        ).all()
        # the first worker's rules were committed, the second's were not
        assert any(f is not None for f in fingerprints)
        assert any(f is None for f in fingerprints)
        stored = session.get(CabinCompliance, stale)
        derived = queries.derive_status(session, queries.current_verdicts(session, stale))
        assert {name: getattr(stored, name) for name in derived} == derived


def test_a_failed_commit_is_the_error_raised_when_the_clean_up_fails_too(
    engine: Engine,
    committed_cabins: list[uuid.UUID],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database gone at the second worker's commit: recomputing compliance for the first
    worker's rules fails as well, and the pass raises the commit's error, not that one."""
    with Session(engine) as session:
        session.execute(
            text("UPDATE verdict SET fingerprint = NULL WHERE cabin_id = :id"),
            {"id": committed_cabins[0]},
        )
        session.commit()
    commits = {"n": 0}
    real_commit = Session.commit
    gone = OperationalError("COMMIT", {}, Exception("server closed the connection"))

    def commit(session: Session) -> None:
        commits["n"] += 1
        if commits["n"] == 2:
            raise gone
        real_commit(session)

    def finish(*args: Any) -> None:
        raise OperationalError("INSERT INTO cabin_compliance", {}, Exception("no connection"))

    monkeypatch.setattr(Session, "commit", commit)
    monkeypatch.setattr(parallel, "finish_full_pass", finish)
    with pytest.raises(OperationalError) as raised:
        reevaluate_all_parallel(engine, workers=2)
    monkeypatch.undo()
    assert raised.value is gone
    assert "clean-up" in caplog.text
    assert "INSERT INTO cabin_compliance" in caplog.text


def test_registry_rules_recompute_compliance_rewrites_only_what_differs(
    engine: Engine, committed_cabins: list[uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = committed_cabins[0]
    with Session(engine) as session:
        right = session.get(CabinCompliance, wrong).compliance_status
        session.execute(
            text(
                "UPDATE cabin_compliance SET compliance_status = 'incomplete' WHERE cabin_id = :id"
            ),
            {"id": wrong},
        )
        session.commit()

    assert main(["rules", "recompute-compliance"]) == 0
    assert "compliance recomputed: 1 cabins changed" in capsys.readouterr().err
    with Session(engine) as session:
        assert session.get(CabinCompliance, wrong).compliance_status == right
