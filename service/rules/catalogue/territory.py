"""Territorial rules: SIT-09 (the cabin answers a territorial need: ZIP/ZAC zoning, low APL or
a zone-rouge EPCI, else a recorded concertation) and SIT-10 (no saturation: other active cabins
within a radius, exempt in ZIP communes). Both read the cabin's derived commune and EPCI and the
current medical-zoning and zone-rouge layers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Select, and_, case, false, func, literal, null, or_, select, true

from service.rules.catalogue.base import FAIL, PASS, UNKNOWN, RuleInput, RuleParams, rule
from service.rules.catalogue.sqlkit import (
    jconst,
    jobj,
    layer_evidence,
    medical_zone_of,
    missing,
    outcome,
    strip,
    within_m,
)
from service.territories.models import Layer, ZoneRouge

Zone = Literal["ZIP", "ZAC"]


class TerritorialNeedParams(RuleParams):
    accepted_zones: tuple[Zone, ...] = ("ZIP", "ZAC")
    apl_threshold: float = Field(default=2.5, ge=0, description="consultations/year/inhabitant")
    accept_zones_rouges: bool = True
    concertation_required_otherwise: bool = True


class SaturationParams(RuleParams):
    radius_m: float = Field(default=1000, gt=0, le=50_000)
    max_other_cabins: int = Field(default=1, ge=0, le=1000)
    exempt_zones: tuple[Zone, ...] = ("ZIP",)


def _zone_rouge_of(epci: Any) -> Any:
    """LATERAL: the row of the EPCI in the current zone-rouge layer (none when not listed)."""
    zr = ZoneRouge.__table__
    layer = Layer.__table__.alias("zr_layer")
    return (
        select(
            literal(True).label("listed"),
            jobj(epci_siren=zr.c.epci_siren, layer=layer_evidence(layer)).label("evidence"),
        )
        .join_from(zr, layer, layer.c.id == zr.c.layer_id)
        .where(layer.c.kind == "zone_rouge", layer.c.is_current, zr.c.epci_siren == epci)
        .order_by(layer.c.synthetic, layer.c.id.desc())
        .limit(1)
        .lateral("zr")
    )


def _zone_rouge_layer() -> Any:
    layer = Layer.__table__
    return (
        select(layer_evidence(layer))
        .where(layer.c.kind == "zone_rouge", layer.c.is_current)
        .order_by(layer.c.synthetic, layer.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@rule("SIT-09", TerritorialNeedParams)
def territorial_need(inp: RuleInput) -> Select[Any]:
    p: TerritorialNeedParams = inp.params
    c = inp.cabins
    mz = medical_zone_of(c, c.c.commune_insee, c.c.region_code)
    zr = _zone_rouge_of(c.c.epci_siren)
    zr_layer = _zone_rouge_layer()

    in_zone = case(
        (mz.zone.is_(None), null()),
        else_=mz.zone.in_(list(p.accepted_zones)) if p.accepted_zones else false(),
    )
    apl_low = mz.apl < p.apl_threshold
    in_zone_rouge = case(
        (literal(not p.accept_zones_rouges), false()),
        (zr.c.listed, true()),
        (c.c.commune_insee.is_(None), null()),
        (c.c.epci_siren.is_(None), false()),  # communes outside any EPCI (a few islands)
        (zr_layer.is_not(None), false()),
        else_=null(),
    )
    inner = (
        select(
            c.c.id.label("cabin_id"),
            c.c.commune_insee,
            c.c.commune_vintage,
            c.c.concertation_date,
            c.c.concertation_parties,
            mz.evidence.label("zoning"),
            mz.layer.label("zoning_layer"),
            in_zone.label("in_zone"),
            apl_low.label("apl_low"),
            in_zone_rouge.label("in_zone_rouge"),
            zr.c.evidence.label("zr_row"),
            zr_layer.label("zr_layer"),
        )
        .select_from(mz.joined)
        .outerjoin(zr, true())
        .offset(0)
        .subquery("need")
    )
    n = inner.c
    need = or_(n.in_zone, n.apl_low, n.in_zone_rouge)
    concerted = and_(
        n.concertation_date.is_not(None),
        func.coalesce(func.cardinality(n.concertation_parties), 0) > 0,
    )
    met_by = case(
        (n.in_zone, literal("zone")),
        (n.apl_low, literal("apl")),
        (n.in_zone_rouge, literal("zone_rouge")),
        (concerted, literal("concertation")),
        (literal(not p.concertation_required_otherwise), literal("concertation_not_required")),
        else_=null(),
    )
    result = outcome(
        (need, PASS),
        (concerted, PASS),
        (literal(not p.concertation_required_otherwise), PASS),
        (~need, FAIL),
        else_=UNKNOWN,
    )
    evidence = strip(
        jobj(
            commune_insee=n.commune_insee,
            commune_vintage=n.commune_vintage,
            met_by=met_by,
            zoning=n.zoning,
            # the zoning in force for the région, when it has no row for the commune
            zoning_layer=case((n.zoning.is_(None), n.zoning_layer), else_=null()),
            accepted_zones=jconst(list(p.accepted_zones)),
            in_accepted_zone=n.in_zone,
            apl_below_threshold=n.apl_low,
            apl_threshold=p.apl_threshold,
            in_zone_rouge=n.in_zone_rouge,
            zone_rouge=func.coalesce(n.zr_row, n.zr_layer),
            concertation=case(
                (
                    concerted,
                    jobj(date=n.concertation_date, parties=func.to_jsonb(n.concertation_parties)),
                ),
                else_=null(),
            ),
            concertation_required_otherwise=p.concertation_required_otherwise,
            missing=case(
                (
                    need.is_(None),
                    missing(
                        (n.commune_insee.is_(None), "commune"),
                        (and_(n.commune_insee.is_not(None), n.zoning.is_(None)), "medical_zone"),
                        (and_(n.zoning.is_not(None), n.apl_low.is_(None)), "apl"),
                        (n.in_zone_rouge.is_(None), "zone_rouge"),
                    ),
                ),
                else_=null(),
            ),
        )
    )
    return select(n.cabin_id, result.label("outcome"), evidence.label("evidence"))


# A cabin's verdict counts the active cabins within `radius_m`: a cabin that becomes or stops
# being active, or moves while active, changes the verdicts of the cabins within that radius.
@rule("SIT-10", SaturationParams, reach=lambda p: p.radius_m)
def saturation(inp: RuleInput) -> Select[Any]:
    p: SaturationParams = inp.params
    c = inp.cabins
    other = _cabin_table().alias("other_cabin")
    cap = p.max_other_cabins + 1
    # Counting stops one past the limit: the verdict needs no more, and dense cities stay cheap.
    near = (
        select(other.c.id)
        .where(
            other.c.status == "active",
            other.c.id != c.c.id,
            within_m(c.c.geom, other.c.geom, p.radius_m),
        )
        .limit(cap)
        .correlate(c)
        .subquery("near")
    )
    count = select(func.count().label("n")).select_from(near).lateral("around")
    mz = medical_zone_of(c, c.c.commune_insee, c.c.region_code)
    inner = (
        select(
            c.c.id.label("cabin_id"),
            c.c.commune_insee,
            count.c.n,
            mz.zone.label("zone"),
            mz.evidence.label("zoning"),
        )
        .select_from(mz.joined)
        .join(count, true())
        .offset(0)
        .subquery("sat")
    )
    s = inner.c
    exempt = s.zone.in_(list(p.exempt_zones)) if p.exempt_zones else false()
    result = outcome(
        (s.n <= p.max_other_cabins, PASS),
        (exempt, PASS),
        (s.zone.is_not(None), FAIL),
        else_=UNKNOWN,
    )
    evidence = strip(
        jobj(
            other_active_cabins_within_radius=s.n,
            counted_up_to=cap,
            radius_m=p.radius_m,
            max_other_cabins=p.max_other_cabins,
            commune_insee=s.commune_insee,
            zoning=s.zoning,
            exempt_zones=jconst(list(p.exempt_zones)),
            exempt=case((s.n > p.max_other_cabins, exempt), else_=null()),
            missing=case(
                (and_(s.n > p.max_other_cabins, s.zone.is_(None)), jconst(["medical_zone"])),
                else_=null(),
            ),
        )
    )
    return select(s.cabin_id, result.label("outcome"), evidence.label("evidence"))


def _cabin_table() -> Any:
    from service.cabins.models import Cabin

    return Cabin.__table__
