"""SIT-19: location consistency — the cabin point lies in the polygon of the declared commune
(else the evidence names the commune it falls in), and a venue FINESS point, when one is given
and geocoded better than its commune, lies within `max_venue_offset_m` of the cabin."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, null, select

from service.cabins.validation import BORDER_TOLERANCE_M
from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import (
    best_current_layer_id,
    combine,
    distance_m,
    fenced,
    geog,
    jconst,
    jobj,
    layer_evidence,
    missing,
    strip,
)
from service.territories.models import Commune, HealthSite, Layer


class LocationParams(RuleParams):
    max_venue_offset_m: float = Field(default=150, gt=0, le=50_000)
    ignore_finess_commune_geocodes: bool = True
    commune_border_tolerance_m: float = Field(
        default=BORDER_TOLERANCE_M,
        ge=0,
        le=5_000,
        description="the commune layer is simplified: a point this close to the declared"
        " commune counts as in it (the same tolerance as the write-time check)",
    )


def _declared_communes() -> Any:
    """The communes of the current commune layer; joined on the declared code (index on
    `insee` for a few cabins, a hash for many). The layer's evidence is `_commune_layer`."""
    commune = Commune.__table__
    return (
        select(commune.c.insee, commune.c.name, commune.c.geom)
        .where(commune.c.layer_id == best_current_layer_id("commune"))
        .subquery("declared")
    )


def _commune_at(point: Any) -> Any:
    """Scalar: the current commune holding the point (GiST on `commune.geom`), as JSON."""
    commune = Commune.__table__
    layer = Layer.__table__.alias("found_layer")
    return (
        select(jobj(insee=commune.c.insee, name=commune.c.name))
        .join_from(commune, layer, layer.c.id == commune.c.layer_id)
        .where(
            layer.c.kind == "commune",
            layer.c.is_current,
            func.ST_Intersects(commune.c.geom, point),
        )
        .order_by(commune.c.insee)
        .limit(1)
        .scalar_subquery()
    )


def _venue_sites() -> Any:
    """The current health-site layer, joined on the venue's FINESS (one layer: one row)."""
    site = HealthSite.__table__
    layer = Layer.__table__.alias("site_layer")
    return (
        select(
            site.c.finess,
            site.c.geom,
            site.c.commune_only_geocode,
            jobj(
                finess=site.c.finess,
                name=site.c.name,
                commune_only_geocode=site.c.commune_only_geocode,
                source_crs=site.c.source_crs,
                layer=layer_evidence(layer),
            ).label("evidence"),
        )
        .join_from(site, layer, layer.c.id == site.c.layer_id)
        .where(site.c.layer_id == best_current_layer_id("health_site"))
        .subquery("venue_site")
    )


def _commune_layer() -> Any:
    """Scalar (computed once): the evidence of the commune layer `_declared_communes` reads."""
    layer = Layer.__table__.alias("commune_layer")
    return (
        select(layer_evidence(layer))
        .where(layer.c.id == best_current_layer_id("commune"))
        .scalar_subquery()
    )


def _site_of(finess: Any) -> Any:
    """Scalar: the evidence of the venue's site in the current health-site layer."""
    site = _venue_sites()
    return select(site.c.evidence).where(site.c.finess == finess).scalar_subquery()


@rule("SIT-19", LocationParams)
def location_consistency(inp: RuleInput) -> Select[Any]:
    p: LocationParams = inp.params
    c = inp.cabins
    declared = _declared_communes()
    site = _venue_sites()
    skipped = and_(site.c.commune_only_geocode, literal(p.ignore_finess_commune_geocodes))
    # the point-in-polygon test once per cabin: each use of it detoasts the commune's polygon
    joined = fenced(
        select(
            c.c.id.label("cabin_id"),
            c.c.declared_insee,
            c.c.venue_finess,
            c.c.geom,
            declared.c.name.label("declared_name"),
            declared.c.geom.label("declared_geom"),
            func.ST_Intersects(declared.c.geom, c.c.geom).label("inside"),
            declared.c.insee.is_not(None).label("declared_found"),
            site.c.finess.is_not(None).label("site_found"),
            site.c.geom.label("site_geom"),
            skipped.label("site_skipped"),
        )
        .select_from(c)
        .outerjoin(declared, declared.c.insee == c.c.declared_insee)
        .outerjoin(site, site.c.finess == c.c.venue_finess),
        "location_joined",
    )
    j = joined.c
    inside = j.inside
    outside = inside.is_(False)
    near_border = func.ST_DWithin(geog(j.declared_geom), geog(j.geom), p.commune_border_tolerance_m)
    commune_outcome = case(
        (inside.is_(None), literal(UNKNOWN)),  # not in the layer, or no polygon
        (inside, literal(PASS)),
        (near_border, literal(PASS)),
        else_=literal(FAIL),
    )
    offset = case(
        (and_(j.site_geom.is_not(None), ~j.site_skipped), distance_m(j.geom, j.site_geom)),
        else_=null(),
    )
    inner = (
        select(
            j.cabin_id,
            j.declared_insee,
            j.venue_finess,
            j.declared_name,
            inside.label("inside"),
            j.declared_found,
            commune_outcome.label("commune_outcome"),
            case(
                (outside, distance_m(j.geom, j.declared_geom)),
                else_=null(),
            ).label("distance_to_declared_m"),
            case((outside, _commune_at(j.geom)), else_=null()).label("falls_in"),
            j.site_found,
            j.site_skipped,
            offset.label("offset_m"),
        )
        .offset(0)
        .subquery("location")
    )
    s = inner.c
    finess_outcome = case(
        (s.venue_finess.is_(None), literal(NOT_APPLICABLE)),
        (s.site_skipped, literal(NOT_APPLICABLE)),
        (s.offset_m.is_(None), literal(UNKNOWN)),
        (s.offset_m <= p.max_venue_offset_m, literal(PASS)),
        else_=literal(FAIL),
    )
    staged = fenced(select(inner, finess_outcome.label("finess_outcome")), "location_parts")
    outcome_, evidence = _location_verdict(p, staged.c)
    return select(staged.c.cabin_id, outcome_.label("outcome"), evidence.label("evidence"))


def _location_verdict(p: LocationParams, r: Any) -> tuple[ColumnElement[str], ColumnElement[Any]]:
    """SIT-19's outcome and evidence from a row of its staged inputs."""
    evidence = strip(
        jobj(
            commune=(
                jobj(
                    outcome=r.commune_outcome,
                    declared_insee=r.declared_insee,
                    declared_name=r.declared_name,
                    inside_polygon=r.inside,
                    distance_to_declared_m=r.distance_to_declared_m,
                    border_tolerance_m=p.commune_border_tolerance_m,
                    falls_in=r.falls_in,
                    # an uncorrelated subquery: computed once per statement
                    layer=case((r.declared_found, _commune_layer()), else_=null()),
                )
            ),
            venue_finess=case(
                (
                    r.venue_finess.is_not(None),
                    jobj(
                        outcome=r.finess_outcome,
                        finess=r.venue_finess,
                        offset_m=r.offset_m,
                        max_venue_offset_m=p.max_venue_offset_m,
                        excluded_commune_only_geocode=r.site_skipped,
                        site=case((r.site_found, _site_of(r.venue_finess)), else_=null()),
                    ),
                ),
                else_=null(),
            ),
            missing=func.nullif(
                missing(
                    (r.commune_outcome == UNKNOWN, "commune"),
                    (r.finess_outcome == UNKNOWN, "health_site"),
                ),
                jconst([]),
            ),
        )
    )
    return combine(r.commune_outcome, r.finess_outcome), evidence
