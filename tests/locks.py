"""Tests of two transactions at once: waiting until one of them waits for the other's lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


def waits_for_a_lock(
    engine: Engine, pid: int, *, advisory: bool = False, seconds: float = 10.0
) -> bool:
    """Whether that backend comes to wait on a lock (an advisory one, if `advisory`) within
    `seconds`."""
    which = " AND wait_event = 'advisory'" if advisory else ""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                text(
                    f"SELECT wait_event_type = 'Lock'{which} FROM pg_stat_activity WHERE pid = :p"
                ),
                {"p": pid},
            )
            if waiting:
                return True
            conn.rollback()
            time.sleep(0.05)
    return False


def in_thread(
    work: Callable[[], Any], session: Session | None = None
) -> tuple[threading.Thread, dict[str, Any]]:
    """Runs `work` in a thread, started; its `result` or `error` lands in the dict. With a
    `session`, the thread commits it after the work, or rolls it back on an error (releasing
    its locks at once)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
            if session is not None:
                session.commit()
        except Exception as exc:  # reported to the test
            if session is not None:
                session.rollback()
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def waits_then_runs(
    engine: Engine,
    waiter: Session,
    work: Callable[[], Any],
    release: Callable[[], None],
    *,
    commit: bool = False,
) -> dict[str, Any]:
    """`work` on the `waiter` session in a thread (which commits it after, with `commit`): it
    must come to wait on an advisory lock, unfinished; then `release` lets it go (the other
    transaction commits or rolls back) and the thread is joined. Its `out`, with no error."""
    pid = waiter.scalar(text("SELECT pg_backend_pid()"))
    thread, out = in_thread(work, waiter if commit else None)
    try:
        assert waits_for_a_lock(engine, pid, advisory=True), "the work did not wait"
        assert "result" not in out
    finally:
        release()
        thread.join(timeout=60)
    assert "error" not in out, out
    return out
