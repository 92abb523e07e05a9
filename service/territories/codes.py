"""The official codes as people and files write them: an INSEE commune, département or région
code with stray spaces, in lower case (2a004), or in a file with the leading zero a
spreadsheet dropped (1001 for 01001), brought to the form the layers hold; and the municipal
arrondissements of Paris, Lyon and Marseille, which have INSEE codes but are not communes."""

from __future__ import annotations

import re

# ASCII digits only: Python's \d also matches other scripts' digits (٧٥٠٥٦).
INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$", re.ASCII)
DEPARTEMENT_RE = re.compile(r"^(\d{2}|2[AB]|97\d)$", re.ASCII)
REGION_RE = re.compile(r"^\d{2}$", re.ASCII)

INSEE_FORMAT = "an INSEE commune code of 5 characters, e.g. 75056, or 2A004 in Corsica"
DEPARTEMENT_FORMAT = "a département code such as 01, 69, 2A or 974"
REGION_FORMAT = "an INSEE région code of 2 digits, e.g. 84 or 01"

# Municipal arrondissements (INSEE type ARM): code range → (commune code, commune name).
_ARRONDISSEMENTS = (
    (75101, 75120, "75056", "Paris"),
    (69381, 69389, "69123", "Lyon"),
    (13201, 13216, "13055", "Marseille"),
)


def normalise_insee(value: str) -> str:
    """A commune code from a file or a search box: spaces around and lower case are ignored;
    4 digits are a code whose leading zero a spreadsheet dropped (no INSEE code has 4
    characters). The result may still be invalid."""
    code = value.strip().upper()
    if len(code) == 4 and code.isascii() and code.isdigit():
        return "0" + code
    return code


def normalise_departement(value: str) -> str:
    """A département code from a file or a search box: spaces around and lower case are
    ignored; one digit is a code whose leading zero a spreadsheet dropped (1 for 01). The
    result may still be invalid."""
    code = value.strip().upper()
    if len(code) == 1 and code.isascii() and code.isdigit():
        return "0" + code
    return code


def normalise_code(value: str) -> str:
    """A code typed by a person: spaces around and lower case ignored, nothing guessed."""
    return value.strip().upper()


def dropped_zero(value: str, length: int) -> str:
    """A hint when a code of digits is one short, as a spreadsheet leaves it, else ''."""
    code = value.strip()
    if code.isascii() and code.isdigit() and len(code) == length - 1:
        return f" (a spreadsheet may have dropped a leading zero: {code} is 0{code})"
    return ""


def arrondissement_of(code: str) -> tuple[str, str] | None:
    """(commune code, commune name) when `code` is a municipal arrondissement, else None."""
    if not (code.isascii() and code.isdigit()):
        return None
    number = int(code)
    for first, last, commune, name in _ARRONDISSEMENTS:
        if first <= number <= last:
            return commune, name
    return None


def arrondissement_reason(code: str) -> str | None:
    """Why an arrondissement code is not a commune of the layer, naming its commune."""
    parent = arrondissement_of(code)
    if parent is None:
        return None
    return (
        f"{code} is a municipal arrondissement of {parent[1]}, not a commune:"
        f" the commune layer holds {parent[1]} as {parent[0]}"
    )


_OVERSEAS_COLLECTIVITIES = {
    "975": "Saint-Pierre-et-Miquelon",
    "977": "Saint-Barthélemy",
    "978": "Saint-Martin",
    "984": "the Terres australes et antarctiques françaises",
    "986": "Wallis-et-Futuna",
    "987": "French Polynesia",
    "988": "New Caledonia",
}


def not_covered_reason(code: str) -> str | None:
    """Why a commune or département code of an overseas collectivity (975, 977, 978, 98x) is
    in no layer: the layers cover mainland France, Corsica and the five DROM only."""
    where = _OVERSEAS_COLLECTIVITIES.get(code[:3])
    if where is None:
        return None
    return (
        f"{code} is in {where}, an overseas collectivity that the layers do not cover"
        " (mainland France, Corsica and the five DROM only)"
    )
