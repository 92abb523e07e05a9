"""The formats the registry checks with a regular expression, each with the words its refusal
uses: a user told `must be an INSEE commune code …` can fix a cell; one told `String should
match pattern '^(?:[0-9]{2}|2A|2B)[0-9]{3}$'` has to read a regex. `pattern()` gives the
regular expression to the model (and so to the published JSON Schema) and keeps its reason
for `service.errors.pydantic_reason`. A pattern may also name what, in the value, breaks it
(`contains the control character U+0007 at position 5`), which says more than what it must be."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

REASONS: dict[str, str] = {}
# Patterns whose refusal can point at the offending part of the value: value → reason or None.
EXPLAINED: dict[str, Callable[[str], str | None]] = {}


def pattern(regex: str, reason: str, explain: Callable[[str], str | None] | None = None) -> str:
    """`regex`, whose refusal reads `must be <reason>`, or `explain(value)` when it says more."""
    REASONS[regex] = reason
    if explain is not None:
        EXPLAINED[regex] = explain
    return regex


# `^(json|geojson)$`: a choice of words, said as such.
_WORDS = re.compile(r"^\^\(((?:[a-z_]+\|)*[a-z_]+)\)\$$")


def mismatch_reason(error: Mapping[str, Any]) -> str | None:
    """The reason for a Pydantic `string_pattern_mismatch` of a known pattern, or for a string
    that is not Unicode text (a lone surrogate, which JSON's `\\ud800` escape lets in), else
    None."""
    value = error.get("input")
    if error.get("type") == "string_unicode" and isinstance(value, str):
        return unwanted_character(value, line_breaks=True)
    if error.get("type") != "string_pattern_mismatch":
        return None
    regex = str((error.get("ctx") or {}).get("pattern", ""))
    explain = EXPLAINED.get(regex)
    said = explain(value) if explain is not None and isinstance(value, str) else None
    if said:
        return said
    if regex in REASONS:
        return f"must be {REASONS[regex]}"
    words = _WORDS.match(regex)
    return f"must be one of: {', '.join(words.group(1).split('|'))}" if words else None


# Free text that exports (CSV, GeoJSON, a finder app's screen) carry as it is: no C0 or C1
# control character, so no tab nor line break either on one line; a multi-line text keeps LF
# (never CR: a line ends one way). Lone surrogates are not text at all; Pydantic refuses them
# before any pattern (`string_unicode`), `mismatch_reason` says where.
_CONTROL_NAMES = {
    0x00: "NUL",
    0x09: "tab",
    0x0A: "line feed",
    0x0D: "carriage return",
    0x7F: "DEL",
    0x85: "next line",
}
_UNWANTED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNWANTED_BUT_LF = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def unwanted_character(value: str, *, line_breaks: bool) -> str | None:
    """The first control character or lone surrogate of `value`, said with its code point and
    its position (1 = the first character); None when there is none. `line_breaks`: LF is
    allowed."""
    found = (_UNWANTED_BUT_LF if line_breaks else _UNWANTED).search(value)
    if found is None:
        return None
    code, position = ord(found.group()), found.start() + 1
    if 0xD800 <= code <= 0xDFFF:
        return (
            f"contains the lone surrogate U+{code:04X} at position {position}: half of a"
            " character, not text (the value was cut or mis-encoded)"
        )
    name = f" ({_CONTROL_NAMES[code]})" if code in _CONTROL_NAMES else ""
    reason = f"contains the control character U+{code:04X}{name} at position {position}"
    if code in (0x09, 0x0A, 0x0D) and not line_breaks:
        return f"{reason}: this field is one line of text"
    return reason


ONE_LINE = pattern(
    r"^[^\x00-\x1f\x7f-\x9f]*$",
    "one line of text without control characters",
    lambda value: unwanted_character(value, line_breaks=False),
)
MULTI_LINE = pattern(
    r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$",
    "text without control characters (lines separated by LF)",
    lambda value: unwanted_character(value, line_breaks=True),
)
# Guards of every text field rather than formats: the import's Table Schema leaves them out.
TEXT_GUARDS = (ONE_LINE, MULTI_LINE)
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


def not_a_cursor(value: str) -> str:
    """The refusal of an `after` this service did not give, in the same words whether its
    form (the pattern) or its content (`service.paging`) gives it away."""
    return f"{value!r} is not a cursor: use the `next` link of the previous page"


CURSOR = pattern(r"^[A-Za-z0-9_-]{22}$", "the `after` of a `next` link, as given", not_a_cursor)
LONG_CURSOR = pattern(
    r"^[A-Za-z0-9_-]{32}$", "the `after` of a `next` link, as given", not_a_cursor
)
SCOPE = pattern(
    r"^(?:national|region:[0-9]{2,3})$", "national or region:<INSEE région code>, e.g. region:84"
)
# Free text of the territory search and of a declaration receipt: one visible character and
# no control character anywhere. The visible one is not `\S`, which a control character also
# matches (a NUL then reached PostgreSQL and was a 500).
VISIBLE_TEXT = pattern(
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    "text with a visible character and no control character",
)
