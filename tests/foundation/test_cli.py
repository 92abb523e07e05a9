"""The `registry` command's own plumbing: the engine its commands open, and `serve`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from service.audit.trail import CHAIN_LOCK_KEY
from service.cli import LONG_STATEMENT_TIMEOUT_MS, cli_engine, main
from service.settings import get_settings

Runs = list[tuple[tuple[object, ...], dict[str, object]]]


def _statement_timeout(statement_timeout_ms: int | None = None) -> str:
    with cli_engine(statement_timeout_ms) as engine, engine.connect() as conn:
        return str(conn.execute(text("SHOW statement_timeout")).scalar_one())


def test_cli_engine_takes_the_request_timeout_unless_told_otherwise(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "1234")
    assert _statement_timeout() == "1234ms"
    assert _statement_timeout(LONG_STATEMENT_TIMEOUT_MS) == "10min"


def test_cli_engine_reads_the_environment_when_called_not_the_cached_settings(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_settings()  # cached with the test database
    other = make_url(database_url).set(database="postgres")
    monkeypatch.setenv("DATABASE_URL", other.render_as_string(hide_password=False))
    with cli_engine() as engine, engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == "postgres"


def test_a_command_without_its_database_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/registry")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_S", "2")
    assert main(["rules", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the database is unavailable") and "Traceback" not in err


def test_a_setting_the_environment_holds_wrong_is_named_without_a_traceback(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`DB_STATEMENT_TIMEOUT_MS=soon registry rules list` was a Pydantic traceback."""
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "soon")
    monkeypatch.setenv("DB_POOL_SIZE", "ten")
    assert main(["rules", "list"]) == 2
    assert capsys.readouterr().err == (
        "error: DB_STATEMENT_TIMEOUT_MS: must be a whole number, e.g. 2 (given 'soon')\n"
        "error: DB_POOL_SIZE: must be a whole number, e.g. 2 (given 'ten')\n"
    )


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> Runs:
    import uvicorn

    calls: Runs = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    return calls


def test_serve_takes_a_number_of_workers_each_building_its_own_app(
    uvicorn_runs: Runs,
) -> None:
    assert main(["serve", "--workers", "2", "--port", "8123"]) == 0
    ((args, kwargs),) = uvicorn_runs
    assert args == ("service.app:create_app",) and kwargs["factory"] is True
    assert (kwargs["workers"], kwargs["port"]) == (2, 8123)


def test_serve_workers_default_to_web_concurrency_else_one(
    uvicorn_runs: Runs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["serve"]) == 0
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert main(["serve"]) == 0
    assert main(["serve", "--workers", "1"]) == 0
    assert [k["workers"] for _, k in uvicorn_runs] == [1, 3, 1]


@pytest.mark.parametrize("given", [["--workers", "0"], ["--workers", "two"]])
def test_serve_refuses_a_number_of_workers_below_one(
    given: list[str],
    uvicorn_runs: Runs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", *given])
    assert exited.value.code == 2
    assert f"argument --workers: {given[1]!r} is not a whole number of at least 1" in (
        capsys.readouterr().err
    )
    assert uvicorn_runs == []


def test_serve_refuses_a_bad_web_concurrency_naming_it(
    uvicorn_runs: Runs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "two")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "error: WEB_CONCURRENCY: 'two' is not a whole number of at least 1\n"
    )
    assert uvicorn_runs == []


def test_a_command_that_waited_behind_a_long_write_says_so(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A publication holds the audit chain: a command appending to it waits, and is cut by
    the lock timeout. It read "the database is unavailable or the connection was lost"."""
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "500")
    with engine.connect() as publication:
        publication.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
        try:
            code = main(["operators", "create", "--name", "Attente", "--siren", "732829320"])
        finally:
            publication.rollback()
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: the command waited as long as it may for a long write to end")
    assert "nothing was written" in err and "Traceback" not in err
