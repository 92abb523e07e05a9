"""SIT-20: declarations kept current — each block of the record (siting with the responsible
person's training, declarations, care links, provider, fees, accessibility) was confirmed within
`max_age_days` of the evaluation date, from its `<block>_confirmed_at` column."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import Date, Integer, Interval, Select, case, cast, func, literal, null, select

from service.cabins.vocabulary import CONFIRMED_BLOCKS
from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import combine, fenced, jobj
from service.timespans import EASTERNMOST

# The day of a confirmation, in the calendar of the evaluation date (`timespans.today`): a
# block confirmed a minute ago is 0 days old at any hour.
_DAY_OFFSET = literal(EASTERNMOST.utcoffset(None), Interval)

# Blocks that may be absent from a record: nothing to keep current then (SIT-14/15 judge that).
_OPTIONAL_BLOCKS = {
    "provider": lambda c: func.coalesce(func.jsonb_typeof(c.c.provider), "null") != "object",
    "fees": lambda c: func.coalesce(func.jsonb_typeof(c.c.fees), "null") != "object",
    "care_links": lambda c: func.coalesce(func.jsonb_array_length(c.c.care_links), 0) == 0,
}


class FreshnessParams(RuleParams):
    max_age_days: int = Field(default=365, ge=1, le=3650)


@rule("SIT-20", FreshnessParams)
def freshness(inp: RuleInput) -> Select[Any]:
    p: FreshnessParams = inp.params
    c = inp.cabins
    at = literal(inp.at, Date)
    columns: list[Any] = [c.c.id.label("cabin_id")]
    for block in CONFIRMED_BLOCKS:
        confirmed = c.c[f"{block}_confirmed_at"]
        day = cast(func.timezone(_DAY_OFFSET, confirmed), Date)
        absent = _OPTIONAL_BLOCKS.get(block)
        age = cast(at - day, Integer)
        state = case(
            *(((absent(c), literal(NOT_APPLICABLE)),) if absent else ()),
            (confirmed.is_(None), literal(UNKNOWN)),
            (age > p.max_age_days, literal(FAIL)),
            else_=literal(PASS),
        )
        columns += [day.label(f"{block}_day"), age.label(f"{block}_age"), state.label(block)]
    inner = fenced(select(*columns).select_from(c), "freshness")
    s = inner.c
    blocks = jobj(
        **{
            block: case(
                (s[block] == NOT_APPLICABLE, null()),
                # its nulls go with the strip of `blocks` (jsonb_strip_nulls is recursive)
                else_=jobj(
                    outcome=s[block],
                    confirmed_on=s[f"{block}_day"],
                    age_days=s[f"{block}_age"],
                ),
            )
            for block in CONFIRMED_BLOCKS
        }
    )
    evidence = jobj(
        blocks=func.jsonb_strip_nulls(blocks),
        max_age_days=p.max_age_days,
        evaluated_on=at,
    )
    return select(
        s.cabin_id,
        combine(*(s[b] for b in CONFIRMED_BLOCKS)).label("outcome"),
        evidence.label("evidence"),
    )
