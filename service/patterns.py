"""The formats the registry checks with a regular expression, each with the words its refusal
uses: a user told `must be an INSEE commune code …` can fix a cell; one told `String should
match pattern '^(?:[0-9]{2}|2A|2B)[0-9]{3}$'` has to read a regex. `pattern()` gives the
regular expression to the model (and so to the published JSON Schema) and keeps its reason
for `service.errors.pydantic_reason`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REASONS: dict[str, str] = {}


def pattern(regex: str, reason: str) -> str:
    """`regex`, whose refusal reads `must be <reason>`."""
    REASONS[regex] = reason
    return regex


# `^(json|geojson)$`: a choice of words, said as such.
_WORDS = re.compile(r"^\^\(((?:[a-z_]+\|)*[a-z_]+)\)\$$")


def mismatch_reason(error: Mapping[str, Any]) -> str | None:
    """The reason for a Pydantic `string_pattern_mismatch` of a known pattern, else None."""
    if error.get("type") != "string_pattern_mismatch":
        return None
    regex = str((error.get("ctx") or {}).get("pattern", ""))
    if regex in REASONS:
        return f"must be {REASONS[regex]}"
    words = _WORDS.match(regex)
    return f"must be one of: {', '.join(words.group(1).split('|'))}" if words else None


NO_NUL = pattern(r"^[^\x00]*$", "text without NUL characters")
INSEE = pattern(
    r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$",
    "an INSEE commune code of 5 characters, e.g. 75056, or 2A004 in Corsica"
    " (a spreadsheet may have dropped a leading zero: 1053 is 01053)",
)
SIREN = pattern(r"^[0-9]{9}$", "a SIREN of 9 digits")
SIRET = pattern(r"^[0-9]{14}$", "a SIRET of 14 digits")
FINESS = pattern(r"^[0-9AB]{9}$", "a FINESS number of 9 characters (digits, or 2A/2B)")
RPPS = pattern(r"^[0-9]{11}$", "an RPPS number of 11 digits")
NAF = pattern(r"^[0-9]{2}\.[0-9]{2}[A-Z]$", "a NAF code such as 47.73Z")
POSTCODE = pattern(r"^[0-9]{5}$", "a postcode of 5 digits")
CURSOR = pattern(r"^[A-Za-z0-9_-]{22}$", "the `after` of a `next` link, as given")
LONG_CURSOR = pattern(r"^[A-Za-z0-9_-]{32}$", "the `after` of a `next` link, as given")
SCOPE = pattern(
    r"^(?:national|region:[0-9]{2,3})$", "national or region:<INSEE région code>, e.g. region:84"
)
# Free text of the territory search and of a declaration receipt.
pattern(r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$", "text with a visible character and no control character")
