"""Accessibility rules: SIT-16 (the accessibility block is complete), SIT-17 (venue path and
entrance meet the arrêté of the building's regime), SIT-18 (the cabin interior is usable from a
wheelchair), and the accessibility label (`accessible`, `partial`, `not_accessible`, `unknown`)
derived from the SIT-17 and SIT-18 outcomes, whose evidence gives the reasons per criterion.

Every fact is tri-state: an absent measurement makes its criterion `unknown`, never `pass`.
Lengths of the record are centimetres; the parameters are metres, as the texts give them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, null, or_, select

from service.rules.catalogue.base import (
    FAIL,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import (
    combine,
    fenced,
    has,
    jobj,
    missing,
    num,
    strip,
    tri,
)

AccessibilityField = Literal[
    "entree_plain_pied",
    "entree_largeur_mini",
    "threshold_height_cm",
    "ramp_slope_pct",
    "ramp_length_cm",
    "path_width_cm",
    "cabin_door_clear_width_cm",
    "turning_diameter_cm",
    "equivalent_solution_documented",
    "usage_space_width_cm",
    "usage_space_depth_cm",
    "controls_height_min_cm",
    "controls_height_max_cm",
    "desk_height_cm",
    "knee_clearance_height_cm",
    "knee_clearance_width_cm",
    "knee_clearance_depth_cm",
    "seat_or_transfer_possible",
    "adjustable_screen",
    "hearing_loop",
    "live_captioning",
    "sign_language_interpreting",
    "speech_output",
    "high_contrast_display",
    "tactile_markers",
    "stationnement_pmr",
    "registre_url",
    "acceslibre_id",
]


class AccessibilityDeclaredParams(RuleParams):
    required_fields: tuple[AccessibilityField, ...] = (
        "entree_plain_pied",
        "entree_largeur_mini",
        "cabin_door_clear_width_cm",
        "turning_diameter_cm",
        "controls_height_min_cm",
        "controls_height_max_cm",
        "hearing_loop",
        "registre_url",
    )


class RegimeThresholds(RuleParams):
    door_clear_min_m: float = Field(gt=0, le=3)
    ramp_max_pct: float = Field(gt=0, le=100)
    ramp_max_pct_le_2m: float | None = Field(
        default=None, gt=0, le=100, description="ramp of at most 2 m (default 10 existing, 8 new)"
    )
    ramp_max_pct_le_050m: float | None = Field(
        default=None, gt=0, le=100, description="ramp of at most 0.50 m (default 12 / 10)"
    )


class VenueAccessParams(RuleParams):
    existing: RegimeThresholds = RegimeThresholds(door_clear_min_m=0.77, ramp_max_pct=6)
    new: RegimeThresholds = RegimeThresholds(door_clear_min_m=0.83, ramp_max_pct=5)
    threshold_max_cm: float = Field(default=2, ge=0)
    threshold_max_cm_gentle: float = Field(
        default=4, ge=0, description="allowed when the ressaut's slope is ≤ 33 % (not recorded)"
    )
    path_width_min_m: float = Field(default=1.20, gt=0)
    path_width_local_min_m: float = Field(
        default=0.90, gt=0, description="a local narrowing; below the minimum, above this: unknown"
    )


class CabinInteriorParams(RuleParams):
    turning_diameter_m: float = Field(default=1.50, gt=0)
    control_height_min_m: float = Field(default=0.90, gt=0)
    control_height_max_m: float = Field(default=1.30, gt=0)
    desk_height_max_m: float = Field(default=0.80, gt=0)
    knee_clearance_m: tuple[float, float, float] = (0.30, 0.60, 0.70)
    """depth, width, height of the knee space under the writing surface"""
    usage_space_m: tuple[float, float] = (0.80, 1.30)
    adapted_min_if_le_20: int = Field(default=1, ge=0)
    door_clear_min_m_existing: float = Field(default=0.77, gt=0)
    door_clear_min_m_new: float = Field(default=0.83, gt=0)


_SHORT_RAMP_DEFAULTS = {"existing": (10.0, 12.0), "new": (8.0, 10.0)}


def _cm(metres: float) -> float:
    return round(metres * 100, 2)


def _o(value: str) -> ColumnElement[str]:
    return literal(value)


def _ge(value: Any, minimum: float) -> ColumnElement[str]:
    """pass when value ≥ minimum, fail below, unknown when not measured."""
    return case((value.is_(None), _o(UNKNOWN)), (value >= minimum, _o(PASS)), else_=_o(FAIL))


def _le(value: Any, maximum: float) -> ColumnElement[str]:
    return case((value.is_(None), _o(UNKNOWN)), (value <= maximum, _o(PASS)), else_=_o(FAIL))


def _regime_min(value: Any, regime: Any, existing: float, new: float) -> ColumnElement[str]:
    """A minimum that depends on the regime; an unknown regime decides only when both agree."""
    return case(
        (value.is_(None), _o(UNKNOWN)),
        (regime == "existing", case((value >= existing, _o(PASS)), else_=_o(FAIL))),
        (regime == "new", case((value >= new, _o(PASS)), else_=_o(FAIL))),
        (value >= max(existing, new), _o(PASS)),
        (value < min(existing, new), _o(FAIL)),
        else_=_o(UNKNOWN),
    )


# --- SIT-16 -----------------------------------------------------------------------------------


@rule("SIT-16", AccessibilityDeclaredParams)
def accessibility_declared(inp: RuleInput) -> Select[Any]:
    p: AccessibilityDeclaredParams = inp.params
    c = inp.cabins
    a = c.c.accessibility

    def declared(name: str) -> ColumnElement[bool]:
        if name == "turning_diameter_cm":  # the turning space, or its documented equivalent
            return or_(has(a, name), tri(a, "equivalent_solution_documented").is_(True))
        return has(a, name)

    lacking = missing(*((~declared(f), f) for f in p.required_fields))
    inner = fenced(
        select(c.c.id.label("cabin_id"), lacking.label("lacking")).select_from(c), "declared"
    )
    complete = func.jsonb_array_length(inner.c.lacking) == 0
    return select(
        inner.c.cabin_id,
        case((complete, _o(PASS)), else_=_o(FAIL)).label("outcome"),
        jobj(required_fields=list(p.required_fields), missing_fields=inner.c.lacking).label(
            "evidence"
        ),
    )


# --- SIT-17 -----------------------------------------------------------------------------------


def _ramp(x: Any, regime: str, t: RegimeThresholds) -> ColumnElement[str]:
    le_2m, le_050m = _SHORT_RAMP_DEFAULTS[regime]
    le_2m = t.ramp_max_pct_le_2m or le_2m
    le_050m = t.ramp_max_pct_le_050m or le_050m
    slope, length = x.slope, x.ramp_length
    return case(
        (x.plain, _o(PASS)),  # step-free: no ramp needed
        (slope.is_(None), _o(UNKNOWN)),
        (slope <= t.ramp_max_pct, _o(PASS)),
        (length.is_(None), case((slope > max(le_2m, le_050m), _o(FAIL)), else_=_o(UNKNOWN))),
        (length <= 50, case((slope <= le_050m, _o(PASS)), else_=_o(FAIL))),
        (length <= 200, case((slope <= le_2m, _o(PASS)), else_=_o(FAIL))),
        else_=_o(FAIL),
    )


@rule("SIT-17", VenueAccessParams)
def venue_access(inp: RuleInput) -> Select[Any]:
    p: VenueAccessParams = inp.params
    c = inp.cabins
    a = c.c.accessibility
    raw = fenced(
        select(
            c.c.id.label("cabin_id"),
            c.c.venue_building_regime.label("regime"),
            num(a, "entree_largeur_mini").label("width"),
            num(a, "threshold_height_cm").label("threshold"),
            num(a, "path_width_cm").label("path"),
            tri(a, "entree_plain_pied").label("plain"),
            num(a, "ramp_slope_pct").label("slope"),
            num(a, "ramp_length_cm").label("ramp_length"),
        ).select_from(c),
        "venue_access_raw",
    )
    x = raw.c
    width, threshold, path, plain = x.width, x.threshold, x.path, x.plain
    inner = (
        select(
            x.cabin_id,
            x.regime,
            width,
            threshold,
            path,
            plain,
            x.slope,
            x.ramp_length,
            _ge(width, _cm(p.existing.door_clear_min_m)).label("width_existing"),
            _ge(width, _cm(p.new.door_clear_min_m)).label("width_new"),
            _ramp(x, "existing", p.existing).label("ramp_existing"),
            _ramp(x, "new", p.new).label("ramp_new"),
            case(
                (and_(threshold.is_(None), plain.is_(True)), _o(PASS)),
                (threshold.is_(None), _o(UNKNOWN)),
                (threshold <= p.threshold_max_cm, _o(PASS)),
                (threshold > p.threshold_max_cm_gentle, _o(FAIL)),
                else_=_o(UNKNOWN),
            ).label("threshold_outcome"),
            case(
                (path.is_(None), _o(UNKNOWN)),
                (path >= _cm(p.path_width_min_m), _o(PASS)),
                (path < _cm(p.path_width_local_min_m), _o(FAIL)),
                else_=_o(UNKNOWN),
            ).label("path_outcome"),
        )
        .offset(0)
        .subquery("venue_access")
    )
    s = inner.c
    existing = combine(s.width_existing, s.ramp_existing, s.threshold_outcome, s.path_outcome)
    new = combine(s.width_new, s.ramp_new, s.threshold_outcome, s.path_outcome)
    staged = fenced(
        select(inner, existing.label("outcome_existing"), new.label("outcome_new")),
        "venue_access_regimes",
    )
    outcome_, evidence = _venue_access_verdict(p, staged.c)
    return select(staged.c.cabin_id, outcome_.label("outcome"), evidence.label("evidence"))


def _venue_access_verdict(
    p: VenueAccessParams, r: Any
) -> tuple[ColumnElement[str], ColumnElement[Any]]:
    """SIT-17's outcome and evidence from a row of its staged inputs."""
    applied = case(
        (r.regime.is_not(None), r.regime),
        (r.outcome_new == PASS, _o("new")),
        else_=_o("existing"),
    )
    result = case(
        (r.regime == "existing", r.outcome_existing),
        (r.regime == "new", r.outcome_new),
        (r.outcome_new == PASS, _o(PASS)),  # meets the stricter regime
        (r.outcome_existing == FAIL, _o(FAIL)),  # fails even the laxer one
        else_=_o(UNKNOWN),
    )

    def per_regime(existing_value: Any, new_value: Any) -> ColumnElement[Any]:
        return case((applied == "new", new_value), else_=existing_value)

    criteria = jobj(
        entrance_width=(
            jobj(
                outcome=per_regime(r.width_existing, r.width_new),
                measured_cm=r.width,
                min_cm=per_regime(
                    literal(_cm(p.existing.door_clear_min_m)), literal(_cm(p.new.door_clear_min_m))
                ),
            )
        ),
        step_or_ramp=(
            jobj(
                outcome=per_regime(r.ramp_existing, r.ramp_new),
                step_free=r.plain,
                ramp_slope_pct=r.slope,
                ramp_length_cm=r.ramp_length,
                ramp_max_pct=per_regime(
                    literal(p.existing.ramp_max_pct), literal(p.new.ramp_max_pct)
                ),
            )
        ),
        threshold=(
            jobj(
                outcome=r.threshold_outcome,
                measured_cm=r.threshold,
                max_cm=p.threshold_max_cm,
                max_cm_if_ressaut_slope_le_33_pct=p.threshold_max_cm_gentle,
            )
        ),
        path_width=(
            jobj(
                outcome=r.path_outcome,
                measured_cm=r.path,
                min_cm=_cm(p.path_width_min_m),
                local_min_cm=_cm(p.path_width_local_min_m),
            )
        ),
    )
    evidence = strip(
        jobj(
            regime=r.regime,
            thresholds_of=applied,
            outcome_if_existing=case((r.regime.is_(None), r.outcome_existing), else_=null()),
            outcome_if_new=case((r.regime.is_(None), r.outcome_new), else_=null()),
            criteria=criteria,
        )
    )
    return result, evidence


# --- SIT-18 -----------------------------------------------------------------------------------


@rule("SIT-18", CabinInteriorParams)
def cabin_interior(inp: RuleInput) -> Select[Any]:
    p: CabinInteriorParams = inp.params
    c = inp.cabins
    a = c.c.accessibility
    raw = fenced(
        select(
            c.c.id.label("cabin_id"),
            c.c.venue_building_regime.label("regime"),
            c.c.venue_cabin_count.label("cabin_count"),
            num(a, "turning_diameter_cm").label("turning"),
            tri(a, "equivalent_solution_documented").label("equivalent"),
            num(a, "controls_height_min_cm").label("low"),
            num(a, "controls_height_max_cm").label("high"),
            num(a, "desk_height_cm").label("desk"),
            num(a, "knee_clearance_depth_cm").label("knee_depth"),
            num(a, "knee_clearance_width_cm").label("knee_width"),
            num(a, "knee_clearance_height_cm").label("knee_height"),
            num(a, "usage_space_width_cm").label("space_width"),
            num(a, "usage_space_depth_cm").label("space_depth"),
            num(a, "cabin_door_clear_width_cm").label("door"),
            tri(a, "seat_or_transfer_possible").label("seat"),
        ).select_from(c),
        "interior_raw",
    )
    x = raw.c
    turning, equivalent, low, high, desk = x.turning, x.equivalent, x.low, x.high, x.desk
    knee = [x.knee_depth, x.knee_width, x.knee_height]
    width, depth, door, seat = x.space_width, x.space_depth, x.door, x.seat
    knee_min = [_cm(m) for m in p.knee_clearance_m]
    space_min = sorted(_cm(m) for m in p.usage_space_m)
    inner = (
        select(
            *raw.c,
            case(
                (equivalent.is_(True), _o(PASS)),
                (turning.is_(None), _o(UNKNOWN)),
                (turning >= _cm(p.turning_diameter_m), _o(PASS)),
                else_=_o(FAIL),  # too small, and no documented equivalent solution
            ).label("turning_outcome"),
            case(
                (
                    or_(low < _cm(p.control_height_min_m), high > _cm(p.control_height_max_m)),
                    _o(FAIL),
                ),
                (or_(low.is_(None), high.is_(None)), _o(UNKNOWN)),
                else_=_o(PASS),
            ).label("controls_outcome"),
            _le(desk, _cm(p.desk_height_max_m)).label("desk_outcome"),
            case(
                (or_(*(k < m for k, m in zip(knee, knee_min, strict=True))), _o(FAIL)),
                (or_(*(k.is_(None) for k in knee)), _o(UNKNOWN)),
                else_=_o(PASS),
            ).label("knee_outcome"),
            case(
                (or_(width.is_(None), depth.is_(None)), _o(UNKNOWN)),
                (
                    and_(
                        func.least(width, depth) >= space_min[0],
                        func.greatest(width, depth) >= space_min[1],
                    ),
                    _o(PASS),
                ),
                else_=_o(FAIL),
            ).label("space_outcome"),
            case((seat.is_(None), _o(UNKNOWN)), (seat, _o(PASS)), else_=_o(FAIL)).label(
                "seat_outcome"
            ),
            _regime_min(
                door,
                x.regime,
                _cm(p.door_clear_min_m_existing),
                _cm(p.door_clear_min_m_new),
            ).label("door_outcome"),
        )
        .offset(0)
        .subquery("interior")
    )
    s = inner.c
    result = combine(
        s.turning_outcome,
        s.controls_outcome,
        s.desk_outcome,
        s.knee_outcome,
        s.space_outcome,
        s.seat_outcome,
        s.door_outcome,
    )
    criteria = jobj(
        turning_space=(
            jobj(
                outcome=s.turning_outcome,
                measured_cm=s.turning,
                min_cm=_cm(p.turning_diameter_m),
                equivalent_solution_documented=s.equivalent,
            )
        ),
        controls_height=(
            jobj(
                outcome=s.controls_outcome,
                min_measured_cm=s.low,
                max_measured_cm=s.high,
                range_cm=[_cm(p.control_height_min_m), _cm(p.control_height_max_m)],
            )
        ),
        desk_height=(
            jobj(outcome=s.desk_outcome, measured_cm=s.desk, max_cm=_cm(p.desk_height_max_m))
        ),
        knee_clearance=(
            jobj(
                outcome=s.knee_outcome,
                measured_cm=(jobj(depth=s.knee_depth, width=s.knee_width, height=s.knee_height)),
                min_cm=dict(zip(("depth", "width", "height"), knee_min, strict=True)),
            )
        ),
        usage_space=(
            jobj(
                outcome=s.space_outcome,
                measured_cm=(jobj(width=s.space_width, depth=s.space_depth)),
                min_cm=space_min,
            )
        ),
        seat_or_transfer=(jobj(outcome=s.seat_outcome, declared=s.seat)),
        door_width=(
            jobj(
                outcome=s.door_outcome,
                measured_cm=s.door,
                regime=s.regime,
                min_cm=case(
                    (s.regime == "new", literal(_cm(p.door_clear_min_m_new))),
                    (s.regime == "existing", literal(_cm(p.door_clear_min_m_existing))),
                    else_=null(),
                ),
            )
        ),
    )
    evidence = strip(
        jobj(
            criteria=criteria,
            venue_cabin_count=s.cabin_count,
            sole_cabin=case((s.cabin_count.is_not(None), s.cabin_count == 1), else_=null()),
            adapted_min_if_le_20=p.adapted_min_if_le_20,
        )
    )
    return select(s.cabin_id, result.label("outcome"), evidence.label("evidence"))


# --- the accessibility label ------------------------------------------------------------------

VENUE_RULE, INTERIOR_RULE = "SIT-17", "SIT-18"

# The label decides only what every outcome of an unknown rule would agree on, as SIT-17 does
# with an unknown building regime. The venue comes first: where the cabin cannot be reached,
# the rules of its interior do not apply (H6: an adapted cabin is reached by an accessible
# path; H8: where the entrance is impossible, the interior rules of art. 5-19 do not apply).
# So a venue that fails makes the cabin not_accessible, whatever its interior; a venue that
# passes makes it accessible with an interior that passes, partial with one that fails; and
# a venue not known makes it unknown, even behind an interior that fails (partial or
# not_accessible, depending on the venue). A missing verdict (a rule not enabled) is unknown.
_LABEL_SQL = """CASE WHEN {venue} = 'fail' THEN 'not_accessible'
            WHEN {venue} = 'pass' AND {interior} = 'pass' THEN 'accessible'
            WHEN {venue} = 'pass' AND {interior} = 'fail' THEN 'partial'
            ELSE 'unknown' END"""


def label_sql(venue: str, interior: str) -> str:
    """The label as a SQL expression over two SQL expressions giving the outcomes of SIT-17
    (`venue`) and SIT-18 (`interior`), NULL when there is no verdict: the one definition of
    the label, in the evaluator's `COMPLIANCE_COLUMNS`, which the stored compliance and the
    as-of and what-if reads (`service.rules.queries.derive_status`) share."""
    return _LABEL_SQL.format(venue=venue, interior=interior)
