"""Siting conditions (HAS 2024, D3-D4): SIT-05 not on the public space, SIT-07 responsible
person present during the opening hours, SIT-08 confidentiality enclosure."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import Integer, Numeric, Select, and_, cast, func, literal, or_, select

from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    NoParams,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import decide, jdate, jobj, tri, txt, unset


@rule("SIT-05", NoParams)
def not_public_space(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    placement = txt(c.siting, "placement")
    reachable = tri(c.siting, "directly_reachable_from_public_space")
    outcome, reason = decide(
        [
            (placement == "outdoor", FAIL, "the cabin stands outdoors"),
            (reachable.is_(True), FAIL, "the cabin is directly reachable from the public space"),
            (
                or_(placement.is_(None), reachable.is_(None)),
                UNKNOWN,
                "the placement is not fully described",
            ),
        ],
        (PASS, "the cabin is inside a building, not reachable directly from the public space"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        jobj(
            reason=reason,
            placement=placement,
            directly_reachable_from_public_space=reachable,
            missing=unset(
                ("siting.placement", placement),
                ("siting.directly_reachable_from_public_space", reachable),
            ),
        ).label("evidence"),
    ).select_from(inp.cabins)


class Sit07Params(RuleParams):
    min_coverage_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of the cabin's opening hours that the staff hours must cover.",
    )


@rule("SIT-07", Sit07Params)
def responsible_person(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit07Params = inp.params
    staff_hours = txt(c.siting, "staff_hours")
    person = (
        select(
            c.id.label("cabin_id"),
            c.status,
            c.opening_hours,
            staff_hours.label("staff_hours"),
            txt(c.siting, "responsible_person", "name_or_role").label("name"),
            jdate(c.siting, "responsible_person", "trained_on_date").label("trained_on"),
            tri(c.siting, "responsible_person", "bound_by_secrecy").label("secrecy"),
        )
        .select_from(inp.cabins)
        .subquery("sit07_person")
    )
    # Hours are compared once per distinct (opening, staff) pair, not once per cabin: the
    # parser is plpgsql, and the same few schedules recur across thousands of cabins. The
    # extended statistics `cabin_hours_pair` (migration 0013) tell PostgreSQL how few pairs
    # there are, so that it hashes them: they name the same two expressions.
    pairs = select(person.c.opening_hours, person.c.staff_hours).distinct().subquery("pairs")
    weeks = select(
        pairs.c.opening_hours,
        pairs.c.staff_hours,
        func.rules_week_minutes(pairs.c.opening_hours).label("open_week"),
        func.rules_week_minutes(pairs.c.staff_hours).label("staff_week"),
    ).subquery("weeks")
    minutes = select(
        weeks.c.opening_hours,
        weeks.c.staff_hours,
        weeks.c.open_week,
        weeks.c.staff_week,
        func.rules_minutes(weeks.c.open_week, type_=Integer).label("open_minutes"),
        func.rules_minutes(weeks.c.open_week.op("*")(weeks.c.staff_week), type_=Integer).label(
            "covered_minutes"
        ),
    ).subquery("minutes")
    joined = (
        select(
            person,
            minutes.c.open_week,
            minutes.c.staff_week,
            minutes.c.open_minutes,
            minutes.c.covered_minutes,
        )
        .select_from(
            person.outerjoin(
                minutes,
                and_(
                    func.coalesce(minutes.c.opening_hours, "")
                    == func.coalesce(person.c.opening_hours, ""),
                    func.coalesce(minutes.c.staff_hours, "")
                    == func.coalesce(person.c.staff_hours, ""),
                ),
            )
        )
        .subquery("sit07")
    )
    r = joined.c
    open_minutes = r.open_minutes
    covered_minutes = r.covered_minutes
    ratio = func.round(cast(covered_minutes, Numeric) / func.nullif(open_minutes, 0), 3)
    outcome, reason = decide(
        [
            (r.status == "decommissioned", NOT_APPLICABLE, "the cabin is decommissioned"),
            (r.secrecy.is_(False), FAIL, "the responsible person is not bound by secrecy"),
            (
                and_(
                    r.open_week.is_not(None),
                    r.staff_week.is_not(None),
                    open_minutes > 0,
                    ratio < p.min_coverage_ratio,
                ),
                FAIL,
                "the staff hours do not cover the cabin's opening hours",
            ),
            (
                or_(r.opening_hours.is_(None), r.staff_hours.is_(None)),
                UNKNOWN,
                "the opening hours or the staff hours are not given",
            ),
            (
                or_(r.open_week.is_(None), r.staff_week.is_(None)),
                UNKNOWN,
                "the hours use opening_hours syntax the engine cannot compare",
            ),
            (
                or_(r.name.is_(None), r.trained_on.is_(None), r.secrecy.is_(None)),
                UNKNOWN,
                "the responsible person is not fully described",
            ),
            (open_minutes == 0, FAIL, "the cabin has no opening hours in the week"),
        ],
        (PASS, "a trained responsible person, bound by secrecy, covers the opening hours"),
    )
    return select(
        r.cabin_id,
        outcome.label("outcome"),
        jobj(
            reason=reason,
            opening_hours=r.opening_hours,
            staff_hours=r.staff_hours,
            open_minutes_per_week=open_minutes,
            covered_minutes_per_week=covered_minutes,
            coverage_ratio=ratio,
            min_coverage_ratio=p.min_coverage_ratio,
            responsible_person=r.name,
            trained_on_date=r.trained_on,
            bound_by_secrecy=r.secrecy,
            missing=unset(
                ("opening_hours", r.opening_hours),
                ("siting.staff_hours", r.staff_hours),
                ("siting.responsible_person.name_or_role", r.name),
                ("siting.responsible_person.trained_on_date", r.trained_on),
                ("siting.responsible_person.bound_by_secrecy", r.secrecy),
            ),
        ).label("evidence"),
    )


@rule("SIT-08", NoParams)
def enclosure(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    kind = txt(c.siting, "enclosure")
    insulated = tri(c.siting, "sound_insulated")
    pharmacist = func.jsonb_extract_path(c.siting, "assistance_modes").op("?")(
        literal("pharmacist")
    )
    outcome, reason = decide(
        [
            (kind == "open_borne", FAIL, "an open borne gives no confidentiality"),
            (
                and_(pharmacist, kind.is_not(None), kind != "closed_room"),
                FAIL,
                "pharmacist-assisted teleconsultation requires a closed room",
            ),
            (insulated.is_(False), FAIL, "the enclosure is not sound-insulated"),
            (or_(kind.is_(None), insulated.is_(None)), UNKNOWN, "the enclosure is not described"),
        ],
        (PASS, "a closed, sound-insulated cabin or room"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        jobj(
            reason=reason,
            enclosure=kind,
            sound_insulated=insulated,
            pharmacist_assisted=func.coalesce(pharmacist, False),
            missing=unset(("siting.enclosure", kind), ("siting.sound_insulated", insulated)),
        ).label("evidence"),
    ).select_from(inp.cabins)
