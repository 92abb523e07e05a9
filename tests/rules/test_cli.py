"""`registry rules …` on bad input: a clear error and exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse refuses the arguments
        status = int(exit_.code or 0)
    return status, capsys.readouterr().err


def test_a_missing_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, err = run(capsys, "rules", "publish", str(tmp_path / "absent.yaml"))
    assert status == 2
    assert "cannot read" in err and "absent.yaml" in err
    assert "Traceback" not in err


def test_a_file_that_is_not_yaml_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: [2026.9\n")
    status, err = run(capsys, "rules", "publish", str(path))
    assert (status, "not valid YAML" in err) == (2, True)


def test_a_file_that_is_not_utf8_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file saved in Windows-1252 (a spreadsheet's) was a UnicodeDecodeError traceback."""
    path = tmp_path / "latin.yaml"
    path.write_bytes("version: '2026.9'\ntitle: Règles\n".encode("cp1252"))
    status, err = run(capsys, "rules", "publish", str(path))
    assert status == 2
    assert err.splitlines() == [
        f"error: {path} is not UTF-8 text at byte 26 (line 2): byte 0xE8 (save it as UTF-8)"
    ]


@pytest.mark.parametrize(("text", "holds"), [("hello\n", "a string"), ("", "nothing")])
def test_a_file_that_is_not_a_mapping_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, holds: str
) -> None:
    """Pydantic said 'Input should be a valid dictionary or instance of RuleSetSpec'."""
    path = tmp_path / "scalar.yaml"
    path.write_text(text)
    status, err = run(capsys, "rules", "publish", str(path))
    assert status == 2
    assert err.splitlines() == [
        f"error: {path} is not a rule set: it must be a YAML mapping of version, title and"
        f" rules (as service/rules/rulesets/2026.1.yaml); it holds {holds}"
    ]


def test_a_file_missing_fields_names_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "short.yaml"
    path.write_text("version: '2026.9'\n")
    status, err = run(capsys, "rules", "publish", str(path))
    assert status == 2
    assert "is not a rule set" in err
    assert "  title:" in err and "  rules:" in err


@pytest.mark.parametrize("workers", ["0", "-3", "two"])
def test_reevaluate_needs_at_least_one_worker(
    capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    status, err = run(capsys, "rules", "reevaluate", "--workers", workers)
    assert status == 2
    assert "at least 1" in err


def test_a_rule_set_the_service_refuses_names_each_field(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import yaml

    from service.rules.rulesets import FIRST_RULE_SET

    spec = yaml.safe_load(FIRST_RULE_SET.read_text())
    spec["version"] = "2099.9"
    spec["rules"].append(dict(spec["rules"][0]))
    path = tmp_path / "twice.yaml"
    path.write_text(yaml.safe_dump(spec))
    status, err = run(capsys, "rules", "publish", str(path))
    assert status == 2
    assert "Traceback" not in err
    assert err.splitlines()[0] == "error: Validation failed: The rule set is not valid."
    last = len(spec["rules"]) - 1
    assert f"  rules.{last}.code: SIT-01 appears twice" in err.splitlines()


def test_a_dry_run_publication_prints_the_report_on_stdout_and_writes_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import yaml
    from sqlalchemy import create_engine, text

    from service.rules.rulesets import FIRST_RULE_SET

    spec = yaml.safe_load(FIRST_RULE_SET.read_text())
    spec["version"] = "2099.8"
    spec["rules"][3]["enabled"] = False
    path = tmp_path / "2099.8.yaml"
    path.write_text(yaml.safe_dump(spec))
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            in_force = conn.scalar(text("SELECT version FROM rule_set WHERE status = 'published'"))
        status = main(["rules", "publish", "--dry-run", str(path)])
        out, err = capsys.readouterr()
        assert status == 0, err
        assert err.splitlines() == [
            f"dry run: rule set 2099.8 would be published, replacing {in_force};"
            " nothing was written"
        ]
        # the report alone on stdout, as `registry rules reevaluate` prints its own: a file
        # or jq reads it (`registry rules publish --dry-run f.yaml > report.json`)
        report = json.loads(out)
        assert report["rule_set_version"] == "2099.8"
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM rule_set WHERE version = '2099.8'")) == 0
            assert (
                conn.scalar(text("SELECT version FROM rule_set WHERE status = 'published'"))
                == in_force
            )
    finally:
        engine.dispose()
