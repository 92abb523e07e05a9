"""Commune search (`GET /v1/territories/communes?q=`): communes of the current layer matching
what a person types (a name, an INSEE code or a postcode), an exact code first, then an exact
name, then the most populated. Accents, case, hyphens and apostrophes are ignored on both
sides."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.territories.codes import arrondissement_of, normalise_insee
from service.territories.models import Commune
from service.territories.queries import current_layer_ids

_FOLD = {
    "a": "àâäáãå",
    "c": "ç",
    "e": "éèêë",
    "i": "íìîï",
    "n": "ñ",
    "o": "óòôöõ",
    "u": "úùûü",
    "y": "ýÿ",
    " ": "'’-",
}
_FROM = "".join(chars for chars in _FOLD.values())
_TO = "".join(plain * len(chars) for plain, chars in _FOLD.items())


_SAINT = re.compile(r"\b(st|ste)\b\.?", re.IGNORECASE)


def fold(value: Any) -> ColumnElement[str]:
    """Lower case, no accents; hyphens and apostrophes as spaces (Saint-Étienne, saint etienne);
    the ligatures as two letters (Œuilly, oeuilly)."""
    lowered = sa.func.replace(sa.func.replace(sa.func.lower(value), "œ", "oe"), "æ", "ae")
    return sa.func.translate(lowered, _FROM, _TO)


def _typed(text: str) -> str:
    """What the person typed, with the abbreviations of Saint and Sainte written out: commune
    names never abbreviate them (St-Étienne, Ste Foy)."""
    return _SAINT.sub(lambda m: "saint" if m.group(1).lower() == "st" else "sainte", text.strip())


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def search_communes(session: Session, text: str, limit: int) -> list[RowMapping]:
    code = normalise_insee(text)
    # A municipal arrondissement's code (75113) finds its commune (Paris).
    code = (arrondissement_of(code) or (code,))[0]
    text = _typed(text)
    name = fold(sa.literal(text))
    point = sa.func.coalesce(Commune.point, sa.func.ST_PointOnSurface(Commune.geom))
    stmt = (
        sa.select(
            Commune.insee,
            Commune.name,
            Commune.departement,
            Commune.region,
            Commune.postcodes,
            Commune.population,
            sa.func.round(sa.cast(sa.func.ST_X(point), sa.Numeric), 6).label("lon"),
            sa.func.round(sa.cast(sa.func.ST_Y(point), sa.Numeric), 6).label("lat"),
        )
        .where(
            Commune.layer_id.in_(current_layer_ids("commune")),
            sa.or_(
                Commune.insee == code,
                sa.literal(code) == sa.func.any(Commune.postcodes),
                fold(Commune.name).like(_fold_prefix(text), escape="\\"),
            ),
        )
        .order_by(
            (Commune.insee == code).desc(),
            (fold(Commune.name) == name).desc(),
            Commune.population.desc().nulls_last(),
            Commune.insee,
        )
        .limit(limit)
    )
    return list(session.execute(stmt).mappings())


def _fold_prefix(text: str) -> ColumnElement[str]:
    return fold(sa.literal(_like_prefix(text.strip())))
