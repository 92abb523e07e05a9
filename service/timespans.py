"""Dates and date-times given in queries, read one way everywhere (and "today", for the dates a
record may not have in the future): `/ogc`'s `datetime` and
`updated_at`, CQL2's DATE and TIMESTAMP (RFC 3339's own forms only), the regulators'
`failing_since` (design.md §6).

A value stands for every instant its last written digit covers: a date its whole day (UTC),
`2026-03-01T08:00Z` that minute, `…T08:00:59Z` that second (the exports write instants to the
second, so a value read in one finds its row again), a fraction one instant. An interval
`start/end` runs from its start's first instant to its end's last; `..` or nothing is an open
end. A date-time without an offset is UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

OPEN = ("", "..")
# La Réunion (UTC+4, no summer time) is the first of the territories the registry covers to
# reach a new day
EASTERNMOST = timezone(timedelta(hours=4))


def today(now: datetime | None = None) -> date:
    """The latest date in force in any territory the registry covers: a declaration, a
    transition or an arrêté dated after it is in the future everywhere. UTC's or the server's
    date refused a date that had begun in France: until 01:00 or 02:00 in Paris, 04:00 in La
    Réunion."""
    return (now or datetime.now(UTC)).astimezone(EASTERNMOST).date()


class SpanError(ValueError):
    """Why a text is not a date, a date-time or an interval of them (the caller names the
    field and the forms it takes)."""


@dataclass(frozen=True)
class Span:
    """The instants from `first` (included) to `past` (excluded); None is an open end."""

    first: datetime | None
    past: datetime | None

    @classmethod
    def of(cls, value: date) -> Span:
        """A value already read (a CQL2 literal): a date is its day, a date-time one instant."""
        if isinstance(value, datetime):
            instant = value if value.tzinfo else value.replace(tzinfo=UTC)
            return cls(instant, _later(instant, timedelta(microseconds=1)))
        first = datetime.combine(value, time(), UTC)
        return cls(first, _later(first, timedelta(days=1)))

    def holds(self, column: Any) -> ColumnElement[bool]:
        """`column` is one of the span's instants (not null, when both ends are open)."""
        clauses = [column >= self.first] if self.first is not None else []
        if self.past is not None:
            clauses.append(column < self.past)
        return sa.and_(*clauses) if clauses else column.is_not(None)  # type: ignore[no-any-return]

    def is_before(self, column: Any) -> ColumnElement[bool]:
        """`column` is earlier than every instant of the span."""
        return column < self.first if self.first is not None else sa.false()  # type: ignore[no-any-return]

    def is_after(self, column: Any) -> ColumnElement[bool]:
        """`column` is later than every instant of the span."""
        return column >= self.past if self.past is not None else sa.false()  # type: ignore[no-any-return]


def parse_instant(text: str) -> Span:
    """One date or date-time: the instants its last written digit covers."""
    value = text.strip()
    first = _first_instant(value)
    if first is None:
        raise SpanError(f"{text!r} is not a date or date-time{_hint(text)}")
    return Span(first, _later(first, _precision(value)))


RFC3339_DATE_FORM = "an RFC 3339 date, YYYY-MM-DD, such as 2026-11-23"
RFC3339_DATE_TIME_FORM = "an RFC 3339 date-time with its offset, such as 2026-11-23T08:00:00Z"


def rfc3339_date(text: Any) -> date:
    """An RFC 3339 full-date (CQL2's DATE): YYYY-MM-DD, read as `parse_instant` reads a day."""
    first = _first_instant(text) if isinstance(text, str) and _FULL_DATE.fullmatch(text) else None
    if first is None:
        raise SpanError(f"{text!r} is not a date: expected {RFC3339_DATE_FORM}{_hint(text)}")
    return first.date()


def rfc3339_date_time(text: Any) -> datetime:
    """An RFC 3339 date-time (CQL2's TIMESTAMP): a full date, the time to the second (a
    fraction past the microsecond is cut at PostgreSQL's resolution) and an offset, never
    guessed; read as `parse_instant` reads one."""
    first = _first_instant(text) if isinstance(text, str) and _DATE_TIME.fullmatch(text) else None
    if first is None:
        raise SpanError(
            f"{text!r} is not a timestamp: expected {RFC3339_DATE_TIME_FORM}{_hint(text)}"
        )
    return first


def _first_instant(value: str) -> datetime | None:
    """The first instant of a calendar date or date-time (UTC without an offset), or None."""
    if not _CALENDAR_DAY.match(value):
        return None
    try:
        first = (
            datetime.combine(date.fromisoformat(value), time(), UTC)
            if _CLOCK.search(value) is None
            else datetime.fromisoformat(value.replace("z", "Z"))
        )
    except ValueError:
        return None
    return first if first.tzinfo else first.replace(tzinfo=UTC)


def parse_interval(text: str) -> Span:
    """An instant, or `start/end` with `..` (or nothing) for an open end."""
    if text.count("/") > 1:
        raise SpanError(f"{text!r} has more than two ends")
    if "/" not in text:
        if text.strip() in OPEN:
            raise SpanError("an instant cannot be open ('..' is for an interval's end)")
        return parse_instant(text)
    start_text, _, end_text = (part.strip() for part in text.partition("/"))
    if start_text in OPEN and end_text in OPEN:
        raise SpanError("an interval needs at least one end ('..' is open)")
    start = None if start_text in OPEN else parse_instant(start_text)
    end = None if end_text in OPEN else parse_instant(end_text)
    return between(start, end, text)


def between(start: Span | None, end: Span | None, written: str = "") -> Span:
    """From the first instant of `start` to the last of `end` (None: open); empty when `end`
    is over before `start` begins."""
    if start and end and start.first and end.past and start.first >= end.past:
        interval = f" {written!r}" if written else ""
        raise SpanError(f"the interval{interval} is empty: it ends before it starts")
    return Span(start.first if start else None, end.past if end else None)


# the day as a calendar date, 2026-03-01 or 20260301: a week (2026-W48) or an ordinal date
# (2026-335), which Python's ISO reading takes too, would stand for its first day only
_CALENDAR_DAY = re.compile(r"[0-9]{4}(-[0-9]{2}-[0-9]{2}|[0-9]{4})([Tt ]|$)")
# RFC 3339 (§5.6): full-date, and date-time = full-date "T" HH:MM:SS[.fraction] offset
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_WEEK_OR_ORDINAL = re.compile(r"[0-9]{4}-?([Ww][0-9]|[0-9]{3}([Tt ]|$))")
# the time of day in a date-time: 08, 08:00, 0800, 08:00:59, with a fraction and an offset
_CLOCK = re.compile(r"[Tt ](?P<clock>[0-9:]+)(?P<fraction>[.,][0-9]+)?([Zz]|[+-][0-9:]+)?$")
# 2026-03-01T08:00:00 01:00: an offset whose `+` the URL turned into a space
_LOST_PLUS = re.compile(r"[0-9] [0-9]{2}(:?[0-9]{2})?(/|$)")


def _precision(text: str) -> timedelta:
    """How long a value stands for, by its last written digit: a day (2026-03-01 or
    20260301), an hour, a minute, a second; with a fraction, one microsecond (PostgreSQL's
    resolution)."""
    found = _CLOCK.search(text)
    if found is None:
        return timedelta(days=1)
    if found["fraction"]:
        return timedelta(microseconds=1)
    digits = len(found["clock"].replace(":", ""))
    return {2: timedelta(hours=1), 4: timedelta(minutes=1)}.get(digits, timedelta(seconds=1))


def _later(instant: datetime, step: timedelta) -> datetime | None:
    """`instant + step`, or None (no bound) past the last instant Python can hold."""
    try:
        return instant + step
    except OverflowError:
        return None


def _hint(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    if _LOST_PLUS.search(text.strip()):
        return " (a + in a URL reads as a space: write the offset's + as %2B)"
    if _WEEK_OR_ORDINAL.match(text.strip()):
        return (
            " (a week or an ordinal date is not read: write the day as YYYY-MM-DD,"
            " a week as an interval start/end)"
        )
    return ""
