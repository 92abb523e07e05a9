"""A new vintage loads beside the current one and becomes current at commit: a reader sees
the old vintage until then, never a half-loaded layer."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from service.db import make_engine
from service.settings import Settings
from service.territories.importers.zoning import import_zoning
from service.territories.layers import lock_layer_loads

DATA = Path(__file__).parent / "data"

CURRENT_ZONING = (
    "SELECT l.vintage, count(z.id) FROM layer l LEFT JOIN medical_zone z ON z.layer_id = l.id"
    " WHERE l.kind = 'medical_zone' AND l.scope = '84' AND l.is_current GROUP BY l.vintage"
)


def test_old_vintage_stays_current_until_the_new_one_commits(engine: Engine) -> None:
    created: list[int] = []
    try:
        with engine.begin() as conn:
            created.append(
                import_zoning(conn, DATA / "zonage-84.csv", region="84", vintage="test-v1").layer_id
            )
        with engine.connect() as writer, engine.connect() as reader:
            transaction = writer.begin()
            created.append(
                import_zoning(
                    writer,
                    DATA / "zonage-84.csv",
                    region="84",
                    vintage="test-v2",
                    reference_date=date(2026, 6, 1),
                ).layer_id
            )
            # inside the writer's transaction the new vintage is current …
            assert writer.execute(text(CURRENT_ZONING)).all() == [("test-v2", 4)]
            # … while every other reader still sees the whole old one
            assert reader.execute(text(CURRENT_ZONING)).all() == [("test-v1", 4)]
            reader.rollback()
            transaction.commit()
            assert reader.execute(text(CURRENT_ZONING)).all() == [("test-v2", 4)]
            reader.rollback()
        with engine.connect() as conn:
            old = conn.execute(
                text("SELECT is_current FROM layer WHERE id = :id"), {"id": created[0]}
            ).scalar_one()
            assert old is False  # kept beside, no longer current
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM layer WHERE id = ANY(:ids)"), {"ids": created})


ANALYSED = "SELECT analyze_count FROM pg_stat_user_tables WHERE relid = 'layer'::regclass"


def test_a_load_analyses_layer(engine: Engine) -> None:
    """`layer` holds a few rows that every rule joins; autovacuum never analyses so few, and
    unanalysed the planner takes it for one row."""
    with engine.connect() as conn:
        before = conn.execute(text(ANALYSED)).scalar_one()
    with engine.begin() as conn:
        layer_id = import_zoning(
            conn, DATA / "zonage-84.csv", region="84", vintage="test-stats"
        ).layer_id
    try:
        with engine.connect() as conn:
            assert conn.execute(text(ANALYSED)).scalar_one() >= before + 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM layer WHERE id = :id"), {"id": layer_id})


def test_a_load_waits_for_the_one_under_way_past_the_requests_lock_timeout(
    settings: Settings,
) -> None:
    """Each statement of a load may run 15 minutes: the next load waits for the lock however
    long, where the engine's lock timeout (sized for requests) cut it short."""
    short = make_engine(settings.model_copy(update={"db_statement_timeout_ms": 400}))
    try:
        with short.begin() as under_way, short.connect() as waiting:
            lock_layer_loads(under_way)
            started = time.monotonic()
            release = threading.Timer(1.0, under_way.rollback)
            release.start()
            with waiting.begin():
                lock_layer_loads(waiting)  # past the 360 ms lock and 400 ms statement timeouts
                timeout = "SELECT current_setting('statement_timeout')"
                assert waiting.scalar(text(timeout)) == "400ms"  # the load's statements'
            release.join()
        assert time.monotonic() - started >= 0.9
    finally:
        short.dispose()
