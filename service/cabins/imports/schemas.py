"""The import job as the API shows it: state, progress, counts and the per-row report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.cabins.vocabulary import ImportMode, ImportState
from service.errors import FieldError


class ImportJobRead(BaseModel):
    id: uuid.UUID
    operator_id: uuid.UUID
    state: ImportState = Field(
        description="queued → running → succeeded (written, or validated for a dry run) |"
        " rejected (atomic import with bad rows: nothing written) | failed (an error stopped"
        " it: nothing written)."
    )
    mode: ImportMode
    dry_run: bool
    media_type: Literal["csv", "ndjson"]
    rows_total: int | None = Field(description="Records in the file (null until counted).")
    rows_done: int = Field(description="Records processed so far.")
    rows_invalid: int = Field(description="Records with at least one error.")
    created: int = Field(description="Cabins created (or that would be, for a dry run).")
    updated: int = Field(
        description="Cabins updated, matched by operator_reference: changed, or sent as stored"
        " with blocks, which the row confirms (SIT-20; a new version, as a PATCH re-sending"
        " them)."
    )
    unchanged: int = Field(
        description="Rows identical to the stored cabin with no block to confirm (none given,"
        " or the cabin decommissioned): not written."
    )
    errors: list[FieldError] = Field(
        description="Every problem of every bad row: {row, field, reason}. Rows are numbered"
        " from 1, the CSV header not counted and a blank row counted (row n is the n-th row"
        " under the header, line n + 1 of the spreadsheet); an NDJSON row is its line number."
    )
    warnings: list[FieldError] = Field(
        description="Possible duplicates: another cabin within 25 m at the same venue."
    )
    detail: str | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
