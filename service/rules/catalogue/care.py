"""Coordinated-care rules: SIT-11 (the cabin declares a care partner that exists in the
current FINESS or CPTS layer), SIT-12 (the declared CPTS is one covering the cabin's place) and
SIT-13 (pharmacist assistance comes with the required devices and a closed room)."""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.dialects.postgresql import JSONPATH, aggregate_order_by

from service.cabins.vocabulary import CareLinkKind, Device
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
    fenced,
    jconst,
    jlist,
    jobj,
    layer_evidence,
    outcome,
    strip,
    txt,
)
from service.territories.models import Cpts, HealthSite, Layer
from service.territories.queries import answering_layers


class CoordinatedCareParams(RuleParams):
    accepted_partner_types: tuple[CareLinkKind, ...] = (
        "cpts",
        "msp",
        "centre_sante",
        "pharmacie",
        "professionnel_rpps",
    )


class CptsConsistencyParams(RuleParams):
    pass


class PharmacyEquipmentParams(RuleParams):
    required_devices_pharmacy: tuple[Device, ...] = (
        "stethoscope_connected",
        "otoscope_connected",
        "oximeter",
        "blood_pressure_monitor",
    )


def _links(c: Any, accepted: list[str] | None = None) -> Any:
    """One row per declared care link of each cabin: cabin_id, ord, kind, finess, siret, rpps."""
    link = (
        func.jsonb_array_elements(_array_or_empty(c.c.care_links))
        .table_valued("value", with_ordinality="ord")
        .render_derived()
        .alias("link")
    )
    v = link.c.value
    kind = txt(v, "kind")
    query = (
        select(
            c.c.id.label("cabin_id"),
            link.c.ord,
            kind.label("kind"),
            txt(v, "finess").label("finess"),
            txt(v, "siret").label("siret"),
            txt(v, "rpps").label("rpps"),
        )
        .select_from(c)
        .join(link, true())
    )
    if accepted is not None:
        query = query.where(kind.in_(accepted))
    # OFFSET 0 keeps the links one relation: the layers are then joined to all of them at once
    # (hashed), never re-scanned inside the per-cabin loop that unnests the JSON array.
    return query.offset(0).subquery("links")


def _jsonpath(path: str) -> Any:
    return cast(literal(path), JSONPATH)


def _array_or_empty(column: Any) -> Any:
    """The column itself when it is a JSON array, else `[]`."""
    return case((func.jsonb_typeof(column) == "array", column), else_=jconst([]))


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
    links = _links(c, list(p.accepted_partner_types))
    # Plain joins, not per-link lookups: the planner probes the indexes for a few cabins and
    # hashes the layers for many.
    site = HealthSite.__table__
    site_layer = Layer.__table__.alias("site_layer")
    cpts = Cpts.__table__
    cpts_layer = Layer.__table__.alias("cpts_layer")
    sites = (
        select(
            site.c.finess,
            strip(
                jobj(
                    finess=site.c.finess,
                    name=site.c.name,
                    category=site.c.category,
                    layer=layer_evidence(site_layer),
                )
            ).label("evidence"),
        )
        .join_from(site, site_layer, site_layer.c.id == site.c.layer_id)
        .where(site.c.layer_id == best_current_layer_id("health_site"))
        .subquery("sites")
    )
    # Plain equality joins the planner can hash (many cabins) or probe by index (a few). A CPTS
    # id is unique within a layer; the same id in two current regional layers would only repeat
    # a partner in the evidence, never change the outcome or the one row per cabin.
    territories = (
        select(
            cpts.c.cpts_id,
            strip(
                jobj(cpts_id=cpts.c.cpts_id, name=cpts.c.name, layer=layer_evidence(cpts_layer))
            ).label("evidence"),
        )
        .join_from(cpts, cpts_layer, cpts_layer.c.id == cpts.c.layer_id)
        .where(cpts_layer.c.kind == "cpts", cpts_layer.c.is_current)
        .subquery("territories")
    )
    by_finess = territories.alias("cpts_by_finess")
    by_siret = territories.alias("cpts_by_siret")
    found_in = func.coalesce(sites.c.evidence, by_finess.c.evidence, by_siret.c.evidence)
    status = case(
        (found_in.is_not(None), literal("found")),
        (
            and_(links.c.finess.is_(None), links.c.siret.is_(None), links.c.rpps.is_(None)),
            literal("no_identifier"),
        ),
        (
            and_(
                links.c.finess.is_not(None),
                links.c.siret.is_(None),
                links.c.rpps.is_(None),
                _real_finess_layer(),
            ),
            literal("not_found"),
        ),
        else_=literal("unverifiable"),
    )
    statuses = (
        select(
            links.c.cabin_id,
            links.c.ord,
            strip(
                jobj(
                    kind=links.c.kind,
                    finess=links.c.finess,
                    siret=links.c.siret,
                    rpps=links.c.rpps,
                    found_in=found_in,
                )
            ).label("link"),
            status.label("status"),
        )
        .select_from(links)
        .outerjoin(sites, sites.c.finess == links.c.finess)
        .outerjoin(by_finess, and_(links.c.kind == "cpts", by_finess.c.cpts_id == links.c.finess))
        .outerjoin(by_siret, and_(links.c.kind == "cpts", by_siret.c.cpts_id == links.c.siret))
        .offset(0)
        .subquery("statuses")
    )
    per_cabin = (
        select(
            statuses.c.cabin_id,
            func.jsonb_agg(
                aggregate_order_by(
                    statuses.c.link.op("||")(jobj(status=statuses.c.status)), statuses.c.ord
                )
            ).label("links"),
            func.bool_or(statuses.c.status == "found").label("any_found"),
            func.bool_or(statuses.c.status == "unverifiable").label("any_unverifiable"),
        )
        .group_by(statuses.c.cabin_id)
        .subquery("per_cabin")
    )
    result = outcome(
        (per_cabin.c.any_found, PASS), (per_cabin.c.any_unverifiable, UNKNOWN), else_=FAIL
    )
    evidence = strip(
        jobj(
            partners=func.coalesce(per_cabin.c.links, jconst([])),
            accepted_partner_types=list(p.accepted_partner_types),
            note=case(
                (
                    and_(per_cabin.c.any_unverifiable, ~per_cabin.c.any_found),
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
        .outerjoin(per_cabin, per_cabin.c.cabin_id == c.c.id)
    )


@rule("SIT-12", CptsConsistencyParams)
def cpts_consistency(inp: RuleInput) -> Select[Any]:
    c = inp.cabins
    cpts = Cpts.__table__
    layer = Layer.__table__.alias("cpts_layer")
    # The CPTS whose member communes include the cabin's commune, in the CPTS layer that
    # answers for the cabin's région only (its official list once imported, else the national
    # one). The member lists are unnested only for the territories whose polygon meets the
    # extent of the cabins evaluated (GiST on cpts.geom: a handful for one cabin, all of them
    # for a full pass), then joined on the commune code and the layer — a hash join for many
    # cabins, no per-cabin scan of the member arrays.
    answering = answering_layers("cpts", "cpts_answering")
    extent = select(
        func.ST_SetSRID(func.geometry(func.ST_Extent(c.c.geom)), 4326)
    ).scalar_subquery()
    members = (
        select(
            func.unnest(cpts.c.member_insee).label("insee"),
            cpts.c.layer_id,
            cast(cpts.c.cpts_id, Text).label("cpts_id"),
            strip(
                jobj(cpts_id=cpts.c.cpts_id, name=cpts.c.name, layer=layer_evidence(layer))
            ).label("evidence"),
        )
        .join_from(cpts, layer, layer.c.id == cpts.c.layer_id)
        .where(
            layer.c.kind == "cpts",
            layer.c.is_current,
            or_(cpts.c.geom.is_(None), cpts.c.geom.op("&&")(extent)),
        )
        .subquery("members")
    )
    covering = (
        select(
            members.c.insee,
            members.c.layer_id,
            func.array_agg(members.c.cpts_id).label("ids"),
            func.jsonb_agg(aggregate_order_by(members.c.evidence, members.c.cpts_id)).label(
                "evidence"
            ),
        )
        .group_by(members.c.insee, members.c.layer_id)
        .subquery("covering")
    )
    inner = (
        select(
            c.c.id.label("cabin_id"),
            c.c.commune_insee,
            answering.c.layer_id.is_not(None).label("layer_covers"),
            covering.c.ids.label("covering_ids"),
            covering.c.evidence.label("covering"),
            func.jsonb_path_query_array(
                _array_or_empty(c.c.care_links),
                _jsonpath('$[*] ? (@.kind == "cpts")'),
            ).label("declared"),
        )
        .select_from(
            c.outerjoin(answering, answering.c.region == c.c.region_code).outerjoin(
                covering,
                and_(
                    covering.c.insee == c.c.commune_insee,
                    covering.c.layer_id == answering.c.layer_id,
                ),
            )
        )
        .offset(0)
        .subquery("cpts_check")
    )
    s = inner.c
    declared_count = func.jsonb_array_length(s.declared)
    ids = func.jsonb_path_query_array(s.declared, _jsonpath("$[*].finess")).op("||")(
        func.jsonb_path_query_array(s.declared, _jsonpath("$[*].siret"))
    )
    result = outcome(
        (declared_count == 0, NOT_APPLICABLE),
        (s.commune_insee.is_(None), UNKNOWN),  # the point is in no commune of the layer
        (ids.op("?|")(s.covering_ids), PASS),
        (s.covering_ids.is_not(None), FAIL),
        (s.layer_covers, NOT_APPLICABLE),
        else_=UNKNOWN,
    )
    evidence = strip(
        jobj(
            covering_cpts=s.covering,
            declared_cpts=case((declared_count > 0, ids), else_=null()),
            covered=case(
                (s.covering_ids.is_not(None), True), (s.layer_covers, False), else_=null()
            ),
            missing=case(
                (declared_count == 0, null()),
                (s.commune_insee.is_(None), jconst(["commune"])),
                (and_(s.covering_ids.is_(None), ~s.layer_covers), jconst(["cpts"])),
                else_=null(),
            ),
        )
    )
    return select(s.cabin_id, result.label("outcome"), evidence.label("evidence"))


@rule("SIT-13", PharmacyEquipmentParams)
def pharmacy_equipment(inp: RuleInput) -> Select[Any]:
    p: PharmacyEquipmentParams = inp.params
    c = inp.cabins
    siting = c.c.siting
    required = jconst(list(p.required_devices_pharmacy))
    raw = fenced(
        select(
            c.c.id.label("cabin_id"),
            jlist(siting, "assistance_modes").label("modes"),
            jlist(siting, "devices").label("devices"),
            txt(siting, "enclosure").label("enclosure"),
        ).select_from(c),
        "pharmacy_raw",
    )
    modes, devices, enclosure = raw.c.modes, raw.c.devices, raw.c.enclosure
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
    return select(raw.c.cabin_id, result.label("outcome"), evidence.label("evidence"))
