"""The batch pass of `registry rules reevaluate`: every cabin under the rule set in force, the
rules dealt over several connections, costliest first (`RULE_COST`, `RuleQueue`), each
connection running the evaluator's set-based statements for the rules it takes; then one
short transaction retires disabled rules and recomputes compliance (`reevaluate_all_parallel`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.rules import plan as planning
from service.rules.evaluator import EvaluationReport, evaluate_cabins, finish_full_pass, now

log = logging.getLogger("service.rules.parallel")

# What each rule's statement costs over all cabins, in seconds of PostgreSQL CPU for 100,000
# generated cabins with nothing changed (`bench/rules/run.py --steps cpu`, verdicts compared by
# fingerprint, 2026-11-23); a rule not listed counts as 1. Only the order matters: the
# costliest rules are handed out first.
RULE_COST = {
    "SIT-01": 0.32,
    "SIT-02": 0.49,
    "SIT-03": 0.38,
    "SIT-04": 0.22,
    "SIT-05": 0.4,
    "SIT-06": 0.35,
    "SIT-07": 0.66,
    "SIT-08": 0.32,
    "SIT-09": 0.63,
    "SIT-10": 1.92,
    "SIT-11": 1.12,
    "SIT-12": 0.77,
    "SIT-13": 0.33,
    "SIT-14": 0.58,
    "SIT-15": 0.68,
    "SIT-16": 0.61,
    "SIT-17": 0.43,
    "SIT-18": 0.41,
    "SIT-19": 0.68,
    "SIT-20": 0.43,
}


class RuleQueue:
    """Rule codes handed out costliest first to whichever worker asks next (thread-safe), so
    workers that take the next rule as soon as they are free finish at about the same time."""

    def __init__(self, codes: Sequence[str]) -> None:
        self._codes = sorted(set(codes), key=lambda c: (-RULE_COST.get(c, 1.0), c))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._codes)

    def take(self) -> str | None:
        with self._lock:
            return self._codes.pop(0) if self._codes else None


def reevaluate_all_parallel(engine: Any, workers: int = 2) -> EvaluationReport:
    """Every cabin, the rules dealt over `workers` connections running at once (one core
    each), then one short transaction that closes disabled rules and recomputes compliance;
    cabin writes wait until it is over. For the command line and batch jobs (not inside a
    request).

    A failure while the rules run rolls every worker back: nothing is written. Once all have
    succeeded, the workers commit one after the other (PostgreSQL commits one connection's
    transaction at a time; making them one would take two-phase commit, which the server
    must be configured for): should a commit fail, the rules already committed stay, the
    compliance of their cabins is recomputed all the same, and the error is raised. A pass
    run again writes only what is still stale."""
    started = time.perf_counter()
    at = now()
    # This session holds the rule set in force, exclusively, until the pass is over: cabin
    # writes and publications wait for it, so no write lands between a rule's statement and
    # its commit (a stale verdict, or two transactions locking one cabin's verdicts in
    # opposite orders). The workers run under it without asking for the lock themselves.
    holding = Session(engine)
    try:
        planning.replace_in_force(holding)
        rule_set = planning.in_force(holding)
        if rule_set is None:
            return EvaluationReport(rule_set_version=None)
        plan = planning.build(holding, rule_set)
        report = _parallel_pass(engine, plan, at, workers)
    finally:
        holding.close()
    report.seconds = time.perf_counter() - started
    return report


def _parallel_pass(
    engine: Any, plan: planning.Plan, at: datetime, workers: int
) -> EvaluationReport:
    queue = RuleQueue([run.code for run in plan.runs])

    def work(session: Session) -> list[EvaluationReport]:
        done = []
        while (code := queue.take()) is not None:
            done.append(evaluate_cabins(session, None, at=at, codes=[code]))
        return done

    sessions = [Session(engine) for _ in range(min(max(workers, 1), len(queue)))]
    committed: list[EvaluationReport] = []
    try:
        parts: list[list[EvaluationReport]] = []
        if sessions:
            with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
                parts = list(pool.map(work, sessions))
        for session, reports in zip(sessions, parts, strict=True):
            session.commit()
            committed += reports
    except BaseException:
        # The error that stopped the pass is the one raised: should the database be gone, the
        # clean-up fails too, and its error would hide the cause.
        try:
            for session in sessions:
                session.rollback()
            if committed:  # a later worker's commit failed: compliance follows the commits
                _finish(engine, plan, committed, at)
        except Exception:
            log.exception("the batch pass failed, and so did its clean-up after the failure")
        raise
    finally:
        for session in sessions:
            session.close()
    return _finish(engine, plan, committed, at)


def _finish(
    engine: Any, plan: planning.Plan, reports: Sequence[EvaluationReport], at: datetime
) -> EvaluationReport:
    """The workers' reports as one, and `finish_full_pass` for their rules, committed."""
    report = EvaluationReport(rule_set_version=plan.version, unimplemented=plan.unimplemented)
    for part in reports:
        report.rules.update(part.rules)
        report.rewritten_cabins |= part.rewritten_cabins
        report.rewritten_many |= part.rewritten_many
    with Session(engine) as session:
        finish_full_pass(session, plan, report, at)
        session.commit()
    return report
