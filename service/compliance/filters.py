"""The regulator's filters: parsed from the query string, checked against the current reference
layers and the rule set in force (a typo is a 400 naming the parameter and what it accepts,
never an empty 200), and turned into one SQL condition together with the caller's scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, and_, exists, func, select, true
from sqlalchemy.orm import Session

from service import timespans
from service.auth.deps import Principal
from service.auth.models import Operator
from service.cabins.models import Cabin
from service.cabins.queries import visible_to
from service.cabins.vocabulary import STATUSES
from service.errors import Forbidden, invalid_parameter
from service.rules.models import (
    COMPLIANCE_STATUSES,
    OUTCOMES,
    SEVERITIES,
    CabinCompliance,
    Rule,
    RuleSet,
    Verdict,
)
from service.territories import codes
from service.territories.models import Commune, Departement, Epci
from service.territories.queries import current_codes, current_layer_ids

DATE_FORMS = "an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T08:00:00Z"


def _one_of(parameter: str, value: str, accepted: tuple[str, ...] | list[str]) -> str:
    if value not in accepted:
        raise invalid_parameter(parameter, f"{value!r} is not one of: {', '.join(accepted)}")
    return value


def parse_instant(parameter: str, value: str | None) -> datetime | None:
    """A date (midnight UTC) or a date-time (UTC when it has no offset): the first instant
    it stands for, as `service.timespans` reads it."""
    if value is None:
        return None
    try:
        return timespans.parse_instant(value).first
    except timespans.SpanError as error:
        raise invalid_parameter(parameter, f"{error}: write {DATE_FORMS}") from None


FAILING_SINCE_FORMS = (
    "an instant or an interval start/end as OGC API's datetime, each end a date or date-time"
    " ('..' or nothing for an open end): 2026-03-01 (during that day), 2026-03-01/.. (that"
    " day or later), ../2026-03-01 (up to the end of that day), 2026-01-01/2026-03-31"
)


def parse_failing_since(value: str | None) -> timespans.Span | None:
    """`failing_since` as OGC API Features reads `datetime` (and /ogc's `datetime` in this
    registry, through `service.timespans`): an instant, or a closed interval `start/end`
    where `..` is an open end; a value stands for every instant its last written digit
    covers (a date its day, a date-time to the second that second)."""
    if value is None:
        return None
    try:
        return timespans.parse_interval(value)
    except timespans.SpanError as error:
        raise invalid_parameter(
            "failing_since", f"{error}; it takes {FAILING_SINCE_FORMS}"
        ) from None


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    expected = "minlon,minlat,maxlon,maxlat in degrees (WGS 84), e.g. 4.7,45.7,4.9,45.8"
    parts = value.split(",")
    try:
        minlon, minlat, maxlon, maxlat = (float(p) for p in parts)
    except ValueError:
        raise invalid_parameter("bbox", f"{value!r} is not {expected}") from None
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise invalid_parameter("bbox", f"{value!r} is not {expected}, with min < max")
    return minlon, minlat, maxlon, maxlat


@dataclass(frozen=True)
class Filters:
    """What the caller asked for. Verdict filters (rule, outcome, severity, failing_since,
    failing_since_*) select the cabins having one verdict that matches all of them."""

    rule: str | None = None
    outcome: str | None = None
    severity: str | None = None
    status: str | None = None
    compliance: str | None = None
    region: str | None = None
    departement: str | None = None
    commune: str | None = None
    epci: str | None = None
    operator: uuid.UUID | None = None
    failing_since_before: datetime | None = None
    failing_since_after: datetime | None = None
    failing_since: timespans.Span | None = None
    bbox: tuple[float, float, float, float] | None = None

    @property
    def on_verdicts(self) -> bool:
        return any(
            v is not None
            for v in (
                self.rule,
                self.outcome,
                self.severity,
                self.failing_since_before,
                self.failing_since_after,
                self.failing_since,
            )
        )


def filters_from_query(
    rule: Annotated[
        str | None, Query(max_length=16, description="A rule code of the rule set in force.")
    ] = None,
    outcome: Annotated[str | None, Query(description=f"One of {', '.join(OUTCOMES)}.")] = None,
    severity: Annotated[
        str | None, Query(description=f"One of {', '.join(SEVERITIES)} (as applied).")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            description=f"Lifecycle status, one of {', '.join(STATUSES)}. Without it,"
            " decommissioned cabins are left out."
        ),
    ] = None,
    compliance: Annotated[
        str | None, Query(description=f"One of {', '.join(COMPLIANCE_STATUSES)}.")
    ] = None,
    region: Annotated[str | None, Query(max_length=8, description="INSEE région code.")] = None,
    departement: Annotated[
        str | None, Query(max_length=8, description="INSEE département code.")
    ] = None,
    commune: Annotated[
        str | None, Query(max_length=8, description="INSEE commune code (derived).")
    ] = None,
    epci: Annotated[str | None, Query(max_length=16, description="SIREN of the EPCI.")] = None,
    operator: Annotated[str | None, Query(max_length=64, description="Operator id.")] = None,
    failing_since_before: Annotated[
        str | None,
        Query(max_length=40, description=f"A verdict failing since before this: {DATE_FORMS}."),
    ] = None,
    failing_since_after: Annotated[
        str | None,
        Query(max_length=40, description=f"A verdict failing since this or later: {DATE_FORMS}."),
    ] = None,
    failing_since: Annotated[
        str | None,
        Query(
            max_length=100,
            description="A verdict failing since this instant or within this interval, as"
            " OGC API's `datetime`: an instant or `start/end`, each end a date or date-time"
            " (UTC without an offset), `..` for an open end, both ends included; a date is its"
            " whole day, a date-time to the second that second. `2026-03-01` (that day),"
            " `2026-03-01/..` (that day or later), `../2026-02-28` (before March),"
            " `2026-01-01/2026-03-31`. Not with `failing_since_before` / `failing_since_after`.",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(max_length=200, description="minlon,minlat,maxlon,maxlat (WGS 84 degrees)."),
    ] = None,
) -> Filters:
    """Syntax only; `check` then looks the codes up in the current layers and rule set."""
    operator_id = None
    if operator is not None:
        try:
            operator_id = uuid.UUID(operator)
        except ValueError:
            raise invalid_parameter(
                "operator", f"{operator!r} is not an operator id (a UUID)"
            ) from None
    if failing_since is not None and (
        failing_since_before is not None or failing_since_after is not None
    ):
        given = (
            "failing_since_before" if failing_since_before is not None else "failing_since_after"
        )
        raise invalid_parameter(
            "failing_since",
            f"give either failing_since or failing_since_before / failing_since_after, not"
            f" both (failing_since and {given} were given)",
        )
    return Filters(
        rule=rule,
        outcome=_one_of("outcome", outcome, OUTCOMES) if outcome is not None else None,
        severity=_one_of("severity", severity, SEVERITIES) if severity is not None else None,
        status=_one_of("status", status, STATUSES) if status is not None else None,
        compliance=(
            _one_of("compliance", compliance, COMPLIANCE_STATUSES)
            if compliance is not None
            else None
        ),
        region=region,
        departement=departement,
        commune=commune,
        epci=epci,
        operator=operator_id,
        failing_since_before=parse_instant("failing_since_before", failing_since_before),
        failing_since_after=parse_instant("failing_since_after", failing_since_after),
        failing_since=parse_failing_since(failing_since),
        bbox=parse_bbox(bbox),
    )


QueryFilters = Annotated[Filters, Depends(filters_from_query)]


def rule_set_in_force(session: Session) -> str | None:
    return session.scalar(select(RuleSet.version).where(RuleSet.status == "published"))


def rules_in_force(session: Session) -> dict[str, bool]:
    """Each rule code of the rule set in force → whether it is enabled."""
    version = rule_set_in_force(session)
    if version is None:
        return {}
    rows = session.execute(
        select(Rule.code, Rule.enabled).where(Rule.rule_set_version == version).order_by(Rule.code)
    )
    return {code: bool(enabled) for code, enabled in rows}


def _exists_in_layer(
    session: Session, column: Any, layer: Any, layer_kind: str, value: str
) -> bool:
    layer_ids = current_layer_ids(layer_kind)
    return bool(session.scalar(select(exists().where(column == value, layer.in_(layer_ids)))))


def check_territory(session: Session, region: str | None, departement: str | None) -> None:
    if region is not None:
        accepted = current_codes(session, "region")
        if region not in accepted:
            raise invalid_parameter(
                "region", f"{region!r} is not a current région code: {', '.join(accepted)}"
            )
    if departement is not None:
        accepted = current_codes(session, "departement")
        if departement not in accepted:
            written = codes.normalise_departement(departement)
            known = codes.not_covered_reason(written)
            raise invalid_parameter(
                "departement",
                known
                if known is not None
                else f"{departement!r} is not a current département code"
                + (f" (write it {written})" if written in accepted else "")
                + f": {', '.join(accepted)}",
            )


def check_commune(session: Session, commune: str | None) -> None:
    """A code the layer does not hold; the reason says what it is when that is known (an
    arrondissement of Paris, Lyon or Marseille, an overseas collectivity, a code written in
    lower case or without its leading zero)."""
    if commune is None or _exists_in_layer(
        session, Commune.insee, Commune.layer_id, "commune", commune
    ):
        return
    written = codes.normalise_insee(commune)
    known = codes.arrondissement_reason(written) or codes.not_covered_reason(written)
    if (
        known is None
        and written != commune
        and _exists_in_layer(session, Commune.insee, Commune.layer_id, "commune", written)
    ):
        known = f"{commune!r} is written {written} in the commune layer"
    raise invalid_parameter(
        "commune",
        known
        or f"{commune!r} is not a current commune INSEE code (5 characters, e.g. 75056;"
        " look one up with GET /v1/territories/communes/{insee})",
    )


def check_scope(
    session: Session,
    principal: Principal,
    region: str | None,
    departement: str | None = None,
    commune: str | None = None,
    epci: str | None = None,
) -> None:
    """A regional key naming a territory of another région is refused (403 naming the
    filter): an empty answer would read as "nothing there". Codes already checked. An EPCI
    may lie across two régions: refused when none of its communes is in the key's."""
    scope = principal.region
    if scope is None:
        return
    asked = [
        ("region", region, region),
        ("departement", departement, _region_of(session, "departement", departement)),
        ("commune", commune, _region_of(session, "commune", commune)),
    ]
    for field, value, in_region in asked:
        if value is not None and in_region != scope:
            raise Forbidden(
                f"This key sees région {scope} only; {field}={value} is in région {in_region}.",
                errors=[{"field": field, "reason": f"outside the key's scope (région {scope})"}],
            )
    if epci is not None:
        regions = _regions_of_epci(session, epci)
        # An EPCI none of whose communes the current commune layer has (the two layers of
        # different years) holds no cabin in any région: an empty answer, not a refusal.
        if regions and scope not in regions:
            raise Forbidden(
                f"This key sees région {scope} only; epci={epci} is in région"
                f"{'s' if len(regions) > 1 else ''} {', '.join(regions)}.",
                errors=[{"field": "epci", "reason": f"outside the key's scope (région {scope})"}],
            )


def _regions_of_epci(session: Session, siren: str) -> list[str]:
    """The régions of the current communes of an EPCI (two for the few across a border)."""
    found = (
        select(Commune.region)
        .where(Commune.epci == siren, Commune.layer_id.in_(current_layer_ids("commune")))
        .distinct()
        .order_by(Commune.region)
    )
    return [region for region in session.scalars(found) if region is not None]


def _region_of(session: Session, kind: str, code: str | None) -> str | None:
    """The région of a current département or commune code."""
    if code is None:
        return None
    layers = current_layer_ids(kind)
    if kind == "departement":
        found = select(Departement.region).where(
            Departement.code == code, Departement.layer_id.in_(layers)
        )
    else:
        found = select(Commune.region).where(Commune.insee == code, Commune.layer_id.in_(layers))
    return session.scalar(found)


def check(session: Session, filters: Filters, principal: Principal) -> None:
    """Every code must exist in the current layers or the rule set in force, and, for a
    regional key, lie in its région."""
    check_territory(session, filters.region, filters.departement)
    check_commune(session, filters.commune)
    if filters.epci is not None and not _exists_in_layer(
        session, Epci.siren, Epci.layer_id, "epci", filters.epci
    ):
        raise invalid_parameter(
            "epci",
            f"{filters.epci!r} is not the SIREN of a current EPCI (9 digits, e.g. 200046977)",
        )
    check_scope(
        session,
        principal,
        filters.region,
        filters.departement,
        filters.commune,
        filters.epci,
    )
    if filters.rule is not None:
        rules = rules_in_force(session)
        accepted = [code for code, enabled in rules.items() if enabled]
        listed = ", ".join(accepted) if accepted else "none (no rule set is in force)"
        if rules.get(filters.rule) is False:
            # A disabled rule's verdicts are removed: the filter could only ever match nothing.
            raise invalid_parameter(
                "rule",
                f"{filters.rule!r} is disabled in the rule set in force, so no cabin has a"
                f" verdict for it; the rules applied: {listed}",
            )
        if filters.rule not in accepted:
            raise invalid_parameter(
                "rule", f"{filters.rule!r} is not a rule of the rule set in force: {listed}"
            )
    if filters.operator is not None and session.get(Operator, filters.operator) is None:
        raise invalid_parameter("operator", f"{filters.operator} is not a registered operator's id")
    if (
        filters.failing_since_before is not None
        and filters.failing_since_after is not None
        and filters.failing_since_after >= filters.failing_since_before
    ):
        raise invalid_parameter("failing_since_after", "must be earlier than failing_since_before")


def condition(
    principal: Principal, filters: Filters, *, any_status: bool = False
) -> ColumnElement[bool]:
    """The WHERE clause over `cabin` (and `cabin_compliance`, outer-joined): the caller's scope
    and every filter. A filter outside the scope simply matches nothing. Without a status
    filter, decommissioned cabins are left out (unless `any_status`)."""
    clauses: list[ColumnElement[bool]] = [visible_to(principal)]
    if filters.status is not None:
        clauses.append(Cabin.status == filters.status)
    elif not any_status:
        clauses.append(Cabin.status != "decommissioned")
    if filters.compliance is not None:
        clauses.append(CabinCompliance.compliance_status == filters.compliance)
    for column, value in (
        (Cabin.region_code, filters.region),
        (Cabin.departement_code, filters.departement),
        (Cabin.commune_insee, filters.commune),
        (Cabin.epci_siren, filters.epci),
        (Cabin.operator_id, filters.operator),
    ):
        if value is not None:
            clauses.append(column == value)
    if filters.bbox is not None:
        clauses.append(Cabin.geom.intersects(func.ST_MakeEnvelope(*filters.bbox, 4326)))
    if filters.on_verdicts:
        verdict_clauses: list[ColumnElement[bool]] = [Verdict.cabin_id == Cabin.id]
        if filters.rule is not None:
            verdict_clauses.append(Verdict.rule_code == filters.rule)
        if filters.outcome is not None:
            verdict_clauses.append(Verdict.outcome == filters.outcome)
        if filters.severity is not None:
            verdict_clauses.append(Verdict.severity == filters.severity)
        if filters.failing_since_before is not None:
            verdict_clauses.append(Verdict.failing_since < filters.failing_since_before)
        if filters.failing_since_after is not None:
            verdict_clauses.append(Verdict.failing_since >= filters.failing_since_after)
        if filters.failing_since is not None:
            verdict_clauses.append(filters.failing_since.holds(Verdict.failing_since))
        clauses.append(exists().where(and_(*verdict_clauses)))
    return and_(true(), *clauses)
