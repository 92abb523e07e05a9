"""Every format the contract checks with a regular expression is refused in words."""

from __future__ import annotations

from typing import Any

from service.cli import openapi_document
from service.patterns import mismatch_reason


def patterns_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return own.union(*(patterns_in(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(patterns_in(v) for v in node))
    return set()


def test_every_pattern_of_the_contract_has_a_reason_in_words() -> None:
    patterns = patterns_in(openapi_document())
    assert len(patterns) >= 15
    unsaid = sorted(
        p
        for p in patterns
        if mismatch_reason({"type": "string_pattern_mismatch", "ctx": {"pattern": p}}) is None
    )
    assert unsaid == [], "add each to service/patterns.py with its reason"


def test_a_choice_of_words_is_said_as_one() -> None:
    error = {"type": "string_pattern_mismatch", "ctx": {"pattern": "^(json|geojson)$"}}
    assert mismatch_reason(error) == "must be one of: json, geojson"
