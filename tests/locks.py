"""Tests of two transactions at once: waiting until one of them waits for the other's lock."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine


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
