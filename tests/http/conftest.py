"""Fixtures of the HTTP layer's tests: the callers (operators, admin, regulators with keys)."""

from tests.auth.fixtures import callers  # noqa: F401
