"""The import as operators send it: files with no data row, a declared charset, and the
files real tools write (spreadsheets, Python's csv module, NDJSON writers)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cabins.imports.models import ImportJob
from tests.auth.fixtures import Callers
from tests.cabins.test_import import CSV, IMPORT, NDJSON, cabins_of, to_csv

HEADER_ONLY = to_csv([])
NO_DATA = [
    (HEADER_ONLY, CSV, "the file has its header line and no data row under it"),
    (HEADER_ONLY.replace(b"\n", b"\r\n") + b"\r\n,,\r\n", CSV, "the file has its header line"),
    (b"\xef\xbb\xbf" + HEADER_ONLY, CSV, "the file has its header line"),
    (b"", CSV, "the file is empty"),
    (b"", NDJSON, "the file is empty"),
    (b"\n\n  \r\n", NDJSON, "every line of the file is blank"),
]


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(("content", "headers", "reason"), NO_DATA)
def test_a_file_with_no_data_row_is_422_naming_the_body(
    client: TestClient,
    db: Session,
    callers: Callers,
    content: bytes,
    headers: dict[str, str],
    reason: str,
    dry_run: bool,
) -> None:
    """An operator who uploads a file with nothing to import made a mistake: not a 200 with
    0 rows."""
    jobs_before = db.scalar(select(func.count()).select_from(ImportJob))
    response = client.post(
        IMPORT + f"?dry_run={str(dry_run).lower()}",
        content=content,
        headers={**headers, **callers.operator},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "no data row" in body["detail"]
    [error] = body["errors"]
    assert error["field"] == "body" and error["reason"].startswith(reason), error
    assert db.scalar(select(func.count()).select_from(ImportJob)) == jobs_before
    assert cabins_of(db, callers.operator_id) == []


@pytest.mark.parametrize(("content", "headers", "reason"), NO_DATA)
def test_a_job_with_no_data_row_is_refused_at_once(
    client: TestClient,
    db: Session,
    callers: Callers,
    content: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    jobs_before = db.scalar(select(func.count()).select_from(ImportJob))
    response = client.post(
        IMPORT, content=content, headers={**headers, **callers.operator, "Prefer": "respond-async"}
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body" and error["reason"].startswith(reason), error
    assert db.scalar(select(func.count()).select_from(ImportJob)) == jobs_before
