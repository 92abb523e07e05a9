"""How the `registry` commands report a refused input: a problem's title and detail, then each
`{field, reason}` on a line of its own, on stderr — never a traceback."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the commands import the service's modules late, to start fast
    from service.errors import Problem

PROBLEM_STATUS = 2
"""The exit status of a command whose input was refused (as argparse's own refusals)."""


def print_problem(problem: Problem, file: TextIO | None = None) -> None:
    out = file or sys.stderr
    detail = problem.detail or ""
    print(f"error: {problem.title}" + (f": {detail}" if detail else ""), file=out)
    for error in problem.errors:
        where = f"row {error.row}, {error.field}" if error.row is not None else error.field
        print(f"  {where}: {error.reason}", file=out)


def fail(problem: Problem, status: int = PROBLEM_STATUS) -> int:
    """Prints the problem; the exit status to return."""
    print_problem(problem)
    return status
