"""The check keys of the French business identifiers, SIREN (an organisation) and SIRET (one
of its establishments), and the one wording of their refusal: the operator's SIREN (auth) and
the SIRETs of a cabin record (its venue, provider and partners) are refused in the same words.
Their form (9 or 14 digits) is a pattern of `service.patterns`, checked first."""

from __future__ import annotations

from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret


def _key_does_not_hold(name: str, digits: int) -> str:
    return f"not a valid {name}: {digits} digits whose Luhn check key does not hold"


def siren_problem(value: str) -> str | None:
    """Why `value` is not a SIREN, or None."""
    return None if stdnum_siren.is_valid(value) else _key_does_not_hold("SIREN", 9)


def siret_problem(value: str) -> str | None:
    """Why `value` is not a SIRET (La Poste's establishments keyed by their digit sum, as
    `stdnum` knows), or None."""
    return None if stdnum_siret.is_valid(value) else _key_does_not_hold("SIRET", 14)
