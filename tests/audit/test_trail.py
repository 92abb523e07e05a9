"""The audit trail: every write leaves an event chained to the one before; UPDATE and DELETE
are refused; editing or deleting a past event (with the guard lifted, as someone with the
database's owner rights could) is found by `registry audit verify`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record, verify
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body
from tests.conftest import ensure_database, migrate


def test_every_cabin_write_is_in_its_history(client: TestClient, callers: Callers) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    url = f"/v1/cabins/{created['id']}"
    client.patch(
        url,
        json={"venue": {"name": "Nouveau nom"}},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    client.post(
        f"{url}/transitions",
        json={"to": "declared", "reason": "ARS informée"},
        headers=callers.operator,
    )
    events = client.get(f"{url}/history", headers=callers.operator).json()["items"]
    assert [e["action"] for e in events] == ["cabin.create", "cabin.update", "cabin.transition"]
    assert all(e["actor_client_id"] for e in events)
    assert events[1]["diff"] == {"venue.name": ["Pharmacie de l'Hôtel de Ville", "Nouveau nom"]}
    assert events[2]["diff"]["status"] == ["draft", "declared"]
    assert events[2]["reason"] == "ARS informée"
    assert events[0]["diff"]["location.declared_insee"] == [None, "75056"]


def test_the_chain_links_each_event_to_the_previous(db: Session) -> None:
    actor = Actor("test", uuid.uuid4())
    first = record(db, actor, "test.a", "thing", "1", {"x": [None, 1.5]})
    second = record(db, actor, "test.b", "thing", "1", {"x": [1.5, 2]}, "why")
    assert second.prev_hash == first.hash
    assert verify(db).ok


def test_update_and_delete_are_refused(db: Session) -> None:
    event = record(db, Actor("test"), "test.a", "thing", "1", {})
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("UPDATE audit_event SET reason = 'x' WHERE id = :id"), {"id": event.id})
    db.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": event.id})
    db.rollback()


def _tamper(db: Session, sql: str, params: dict) -> None:
    db.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    db.execute(text(sql), params)
    db.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))


def test_verify_finds_an_edited_event(db: Session) -> None:
    actor = Actor("test")
    events = [record(db, actor, "test", "thing", str(i), {"n": [None, i]}) for i in range(4)]
    assert verify(db).ok
    _tamper(
        db,
        "UPDATE audit_event SET diff = '{\"n\": [null, 99]}' WHERE id = :id",
        {"id": events[1].id},
    )
    result = verify(db)
    assert not result.ok
    assert result.breaks[0].event_id == events[1].id
    assert "hash" in result.breaks[0].problem


def test_the_trail_refuses_truncate(db: Session) -> None:
    record(db, Actor("test"), "test", "thing", "1", {})
    db.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("TRUNCATE audit_event"))


def test_verify_finds_a_deleted_event(db: Session) -> None:
    actor = Actor("test")
    events = [record(db, actor, "test", "thing", str(i), {}) for i in range(3)]
    _tamper(db, "DELETE FROM audit_event WHERE id = :id", {"id": events[1].id})
    result = verify(db)
    assert result.breaks[0].event_id == events[2].id
    assert "prev_hash" in result.breaks[0].problem


def test_verify_says_what_the_edited_event_was(db: Session) -> None:
    """The break names the event by what it records, not by its id alone."""
    actor = Actor("test")
    events = [record(db, actor, "test.edit", "thing", str(i), {"n": [None, i]}) for i in range(3)]
    _tamper(db, "UPDATE audit_event SET reason = 'nothing' WHERE id = :id", {"id": events[1].id})
    [broken] = verify(db).breaks
    at = events[1].at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert broken.event_id == events[1].id
    assert broken.problem == (
        f"event {events[1].id} (test.edit of thing 1 at {at} by test): its content does not"
        " match its hash: a field was changed after it was written"
    )


def test_verify_says_events_were_deleted_between_two(db: Session) -> None:
    actor = Actor("test")
    events = [record(db, actor, "test", "thing", str(i), {}) for i in range(4)]
    _tamper(
        db,
        "DELETE FROM audit_event WHERE id IN (:a, :b)",
        {"a": events[1].id, "b": events[2].id},
    )
    [broken] = verify(db).breaks
    assert broken.event_id == events[3].id
    assert (
        f"does not chain to event {events[0].id}, the one before it: events between them"
        " were deleted, or one of the two was edited" in broken.problem
    )


def test_verify_reports_every_broken_event_not_only_the_first(db: Session) -> None:
    """After the first break the walk goes on, each event checked against its stored
    neighbour, so the extent of the damage is known at once."""
    actor = Actor("test")
    events = [record(db, actor, "test", "thing", str(i), {"n": [None, i]}) for i in range(5)]
    _tamper(db, "UPDATE audit_event SET actor = 'x' WHERE id = :id", {"id": events[1].id})
    _tamper(db, "DELETE FROM audit_event WHERE id = :id", {"id": events[3].id})
    result = verify(db)
    assert [b.event_id for b in result.breaks] == [events[1].id, events[4].id]
    assert result.last_id == events[4].id


def empty_scratch_trail(database_url: str) -> tuple[str, Engine]:
    """A scratch database (migrated) whose audit trail is empty, for tests that commit."""
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_audit")
    scratch = url.render_as_string(hide_password=False)
    ensure_database(scratch)
    migrate(scratch)
    engine = create_engine(scratch, pool_size=4)
    with engine.begin() as conn:  # the trail refuses TRUNCATE: lift its triggers for this one
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("TRUNCATE audit_event"))
    return scratch, engine


def test_registry_audit_verify_command(database_url: str) -> None:
    """On a scratch database: events committed, one edited with SQL, the command reports it."""
    scratch, engine = empty_scratch_trail(database_url)
    env = {**os.environ, "DATABASE_URL": scratch}
    command = [sys.executable, "-m", "service.cli", "audit", "verify"]
    try:
        with Session(engine) as session:
            ids = [
                record(session, Actor("cli"), "test", "thing", str(i), {"i": [None, i]}).id
                for i in range(3)
            ]
            session.commit()
        ok = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert ok.returncode == 0, ok.stderr
        with Session(engine) as session:
            last = session.execute(
                text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")
            ).one()
        # the last event's hash, to note down: a later walk that ends elsewhere lost events
        assert ok.stdout.splitlines() == [
            f"audit chain intact: 3 events; the last, {last.id}, has the hash {last.hash}"
        ]
        with Session(engine) as session:
            _tamper(
                session,
                "UPDATE audit_event SET actor = 'someone else' WHERE id = :id",
                {"id": ids[0]},
            )
            session.commit()
        broken = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert broken.returncode == 1
        lines = broken.stderr.splitlines()
        assert lines[0].startswith(f"audit chain broken at event {ids[0]} (test of thing 0 at ")
        assert lines[0].endswith("(0 events before it verified)")
        assert lines[-1] == "1 of 3 events do not verify; the others chain as written"
    finally:
        engine.dispose()


def test_concurrent_appends_keep_one_chain(database_url: str) -> None:
    """Two writers at once (on a scratch database, committed): the advisory lock makes them
    take turns, so no two events share a predecessor and the chain verifies."""
    import threading

    _, engine = empty_scratch_trail(database_url)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with Session(engine) as session:
                    record(session, Actor(name), "test", "thing", str(i), {"i": [None, i]})
                    session.commit()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    try:
        threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with Session(engine) as session:
            assert verify(session).ok
            duplicates = session.execute(
                text(
                    "SELECT prev_hash FROM audit_event WHERE prev_hash IS NOT NULL"
                    " GROUP BY prev_hash HAVING count(*) > 1"
                )
            ).all()
            assert duplicates == []
    finally:
        engine.dispose()


def test_registry_audit_verify_reads_the_database_url_when_it_runs(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In one process whose settings are already read (as a server's or a test run's), the
    command verifies the database DATABASE_URL names now: here a scratch one, broken."""
    from service.cli import main
    from service.settings import get_settings

    get_settings()  # cached with the test database, whose chain is intact
    scratch, engine = empty_scratch_trail(database_url)
    try:
        with Session(engine) as session:
            event_id = record(session, Actor("cli"), "test", "thing", "1", {"i": [None, 1]}).id
            _tamper(session, "UPDATE audit_event SET actor = 'x' WHERE id = :id", {"id": event_id})
            session.commit()
        monkeypatch.setenv("DATABASE_URL", scratch)
        assert main(["audit", "verify"]) == 1
        assert f"broken at event {event_id}" in capsys.readouterr().err
    finally:
        engine.dispose()


def test_registry_audit_verify_on_a_database_not_migrated_says_so(database_url: str) -> None:
    """A database without the registry's tables was a traceback (UndefinedTable)."""
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_bare")
    bare = url.render_as_string(hide_password=False)
    ensure_database(bare)
    env = {**os.environ, "DATABASE_URL": bare}
    command = [sys.executable, "-m", "service.cli", "audit", "verify"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        'error: the database has no table "audit_event": it is not migrated; run'
        " `registry db upgrade` first"
    ]


def test_a_listing_cut_short_by_its_reader_is_no_traceback(database_url: str) -> None:
    """`registry clients list | head -1`: the reader gone, the command stops quietly."""
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "service.cli", "clients", "list"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `head` does once it has its lines
    err = process.stderr.read()
    process.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
