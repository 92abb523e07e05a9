"""Coordinated-care rules: SIT-11 (the cabin declares a care partner that exists in the
current FINESS or CPTS layer), SIT-12 (the declared CPTS is one covering the cabin's place) and
SIT-13 (pharmacist assistance comes with the required devices and a closed room)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import (
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
)

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
    current_layer_covers,
    jconst,
    jlist,
    jobj,
    layer_evidence,
    outcome,
    strip,
    txt,
)
from service.territories.models import Cpts, HealthSite, Layer

PartnerKind = Literal["cpts", "msp", "centre_sante", "pharmacie", "professionnel_rpps"]
DeviceName = Literal[
    "stethoscope_connected",
    "otoscope_connected",
    "oximeter",
    "blood_pressure_monitor",
    "thermometer",
    "dermatoscope_connected",
    "ecg_connected",
    "scale",
    "glucometer",
    "other",
]


class CoordinatedCareParams(RuleParams):
    accepted_partner_types: tuple[PartnerKind, ...] = (
        "cpts",
        "msp",
        "centre_sante",
        "pharmacie",
        "professionnel_rpps",
    )


class CptsConsistencyParams(RuleParams):
    pass


class PharmacyEquipmentParams(RuleParams):
    required_devices_pharmacy: tuple[DeviceName, ...] = (
        "stethoscope_connected",
        "otoscope_connected",
        "oximeter",
        "blood_pressure_monitor",
    )


def _health_site_by_finess(finess: Any) -> Any:
    """LATERAL: the FINESS row in the current health-site layer (index on `finess`)."""
    site = HealthSite.__table__
    layer = Layer.__table__.alias("hs_layer")
    return (
        select(
            strip(
                jobj(
                    finess=site.c.finess,
                    name=site.c.name,
                    category=site.c.category,
                    layer=layer_evidence(layer),
                )
            ).label("evidence")
        )
        .join_from(site, layer, layer.c.id == site.c.layer_id)
        .where(layer.c.kind == "health_site", layer.c.is_current, site.c.finess == finess)
        .order_by(layer.c.synthetic, layer.c.id.desc())
        .limit(1)
        .lateral("hs")
    )


def _cpts_by_id(kind: Any, *ids: Any) -> Any:
    """LATERAL: the CPTS of the current CPTS layers whose identifier is one of `ids`."""
    cpts = Cpts.__table__
    layer = Layer.__table__.alias("cp_layer")
    return (
        select(
            strip(
                jobj(cpts_id=cpts.c.cpts_id, name=cpts.c.name, layer=layer_evidence(layer))
            ).label("evidence")
        )
        .join_from(cpts, layer, layer.c.id == cpts.c.layer_id)
        .where(
            kind == "cpts",
            layer.c.kind == "cpts",
            layer.c.is_current,
            cpts.c.cpts_id.in_([i for i in ids]),
        )
        .order_by(layer.c.synthetic, layer.c.id.desc())
        .limit(1)
        .lateral("cp")
    )


def _real_finess_layer() -> Any:
    """A current health-site layer that is not synthetic: a FINESS absent from it does not exist."""
    layer = Layer.__table__
    return (
        select(layer.c.id)
        .where(layer.c.kind == "health_site", layer.c.is_current, ~layer.c.synthetic)
        .exists()
    )


@rule("SIT-11", CoordinatedCareParams)
def coordinated_care(inp: RuleInput) -> Select[Any]:
    p: CoordinatedCareParams = inp.params
    c = inp.cabins
    link = (
        func.jsonb_array_elements(_array_or_empty(c.c.care_links))
        .table_valued("value")
        .alias("link")
    )
    v = link.c.value
    kind, finess, siret, rpps = (txt(v, k) for k in ("kind", "finess", "siret", "rpps"))
    hs = _health_site_by_finess(finess)
    cp = _cpts_by_id(kind, finess, siret)
    found = or_(hs.c.evidence.is_not(None), cp.c.evidence.is_not(None))
    status = case(
        (found, literal("found")),
        (and_(finess.is_(None), siret.is_(None), rpps.is_(None)), literal("no_identifier")),
        (
            and_(finess.is_not(None), siret.is_(None), rpps.is_(None), _real_finess_layer()),
            literal("not_found"),
        ),
        else_=literal("unverifiable"),
    )
    per_link = (
        select(
            kind.label("kind"),
            strip(
                jobj(
                    kind=kind,
                    finess=finess,
                    siret=siret,
                    rpps=rpps,
                    found_in=func.coalesce(hs.c.evidence, cp.c.evidence),
                )
            ).label("link"),
            status.label("status"),
        )
        .select_from(link)
        .outerjoin(hs, true())
        .outerjoin(cp, true())
        .where(kind.in_(list(p.accepted_partner_types)))
        .subquery("one_link")
    )
    links = (
        select(
            func.jsonb_agg(per_link.c.link.op("||")(jobj(status=per_link.c.status))).label("links"),
            func.bool_or(per_link.c.status == "found").label("any_found"),
            func.bool_or(per_link.c.status == "unverifiable").label("any_unverifiable"),
        )
        .select_from(per_link)
        .lateral("links")
    )
    result = outcome((links.c.any_found, PASS), (links.c.any_unverifiable, UNKNOWN), else_=FAIL)
    evidence = strip(
        jobj(
            partners=func.coalesce(links.c.links, jconst([])),
            accepted_partner_types=list(p.accepted_partner_types),
            note=case(
                (
                    links.c.any_unverifiable & ~func.coalesce(links.c.any_found, False),
                    literal(
                        "no declared partner could be checked: RPPS and SIRENE are not loaded,"
                        " and a FINESS absent from a synthetic or missing layer proves nothing",
                        String,
                    ),
                ),
                else_=null(),
            ),
        )
    )
    return (
        select(c.c.id.label("cabin_id"), result.label("outcome"), evidence.label("evidence"))
        .select_from(c)
        .join(links, true())
    )


def _array_or_empty(column: Any) -> Any:
    """The column itself when it is a JSON array, else `[]`."""
    return case((func.jsonb_typeof(column) == "array", column), else_=jconst([]))


@rule("SIT-12", CptsConsistencyParams)
def cpts_consistency(inp: RuleInput) -> Select[Any]:
    c = inp.cabins
    cpts = Cpts.__table__
    layer = Layer.__table__.alias("cpts_layer")
    # The territories holding the cabin's point (GiST on cpts.geom): the CPTS covering its place.
    covering = (
        select(
            func.array_agg(cast(cpts.c.cpts_id, Text)).label("ids"),
            func.jsonb_agg(
                strip(jobj(cpts_id=cpts.c.cpts_id, name=cpts.c.name, layer=layer_evidence(layer)))
            ).label("evidence"),
        )
        .join_from(cpts, layer, layer.c.id == cpts.c.layer_id)
        .where(
            layer.c.kind == "cpts",
            layer.c.is_current,
            func.ST_Intersects(cpts.c.geom, c.c.geom),
        )
        .lateral("covering")
    )
    link = (
        func.jsonb_array_elements(_array_or_empty(c.c.care_links))
        .table_valued("value")
        .alias("link")
    )
    declared = (
        select(
            func.array_remove(
                func.array_cat(
                    func.array_agg(txt(link.c.value, "finess")),
                    func.array_agg(txt(link.c.value, "siret")),
                ),
                null(),
            ).label("ids")
        )
        .select_from(link)
        .where(txt(link.c.value, "kind") == "cpts")
        .lateral("declared")
    )
    inner = (
        select(
            c.c.id.label("cabin_id"),
            current_layer_covers("cpts", c.c.region_code).label("layer_covers"),
            covering.c.ids.label("covering_ids"),
            covering.c.evidence.label("covering"),
            declared.c.ids.label("declared_ids"),
        )
        .select_from(c)
        .join(covering, true())
        .join(declared, true())
        .subquery("cpts_check")
    )
    s = inner.c
    declared_count = func.coalesce(func.cardinality(s.declared_ids), 0)
    result = outcome(
        (declared_count == 0, NOT_APPLICABLE),
        (s.covering_ids.op("&&")(s.declared_ids), PASS),
        (s.covering_ids.is_not(None), FAIL),
        (s.layer_covers, NOT_APPLICABLE),
        else_=UNKNOWN,
    )
    evidence = strip(
        jobj(
            covering_cpts=s.covering,
            declared_cpts=func.to_jsonb(s.declared_ids),
            covered=case(
                (s.covering_ids.is_not(None), True), (s.layer_covers, False), else_=null()
            ),
            missing=case(
                (and_(s.covering_ids.is_(None), ~s.layer_covers), jconst(["cpts"])), else_=null()
            ),
        )
    )
    return select(s.cabin_id, result.label("outcome"), evidence.label("evidence"))


@rule("SIT-13", PharmacyEquipmentParams)
def pharmacy_equipment(inp: RuleInput) -> Select[Any]:
    p: PharmacyEquipmentParams = inp.params
    c = inp.cabins
    siting = c.c.siting
    modes = jlist(siting, "assistance_modes")
    devices = jlist(siting, "devices")
    required = jconst(list(p.required_devices_pharmacy))
    enclosure = txt(siting, "enclosure")
    claims_pharmacist = modes.op("@>")(jconst(["pharmacist"]))
    has_devices = devices.op("@>")(required)
    result = outcome(
        (~claims_pharmacist, NOT_APPLICABLE),
        (~has_devices, FAIL),
        (enclosure.is_(None), UNKNOWN),
        (enclosure != "closed_room", FAIL),
        else_=PASS,
    )
    wanted = func.jsonb_array_elements_text(required).table_valued("value").alias("wanted")
    lacking = (
        select(func.coalesce(func.jsonb_agg(wanted.c.value), jconst([])))
        .select_from(wanted)
        .where(~devices.op("?")(wanted.c.value))
        .scalar_subquery()
    )
    evidence = strip(
        jobj(
            assistance_modes=modes,
            required_devices=required,
            devices=devices,
            missing_devices=case((claims_pharmacist, lacking), else_=null()),
            enclosure=enclosure,
            required_enclosure="closed_room",
            missing=case(
                (
                    and_(claims_pharmacist, has_devices, enclosure.is_(None)),
                    jconst(["siting.enclosure"]),
                ),
                else_=null(),
            ),
        )
    )
    return select(c.c.id.label("cabin_id"), result.label("outcome"), evidence.label("evidence"))
