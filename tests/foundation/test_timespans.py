"""The one reading of dates in queries (`service.timespans`): what instants a value covers,
what an interval spans, and the reasons a value is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from service.timespans import (
    Span,
    SpanError,
    parse_instant,
    parse_interval,
    rfc3339_date,
    rfc3339_date_time,
    today,
)

T = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "first", "length"),
    [
        ("2026-03-01", T, timedelta(days=1)),
        ("20260301", T, timedelta(days=1)),  # ISO 8601's basic form
        ("2026-03-01T08", T + timedelta(hours=8), timedelta(hours=1)),
        ("2026-03-01T08:00Z", T + timedelta(hours=8), timedelta(minutes=1)),
        ("2026-03-01t08:00:59z", T + timedelta(hours=8, seconds=59), timedelta(seconds=1)),
        ("2026-03-01 08:00:59", T + timedelta(hours=8, seconds=59), timedelta(seconds=1)),
        ("2026-03-01T09:00:00+01:00", T + timedelta(hours=8), timedelta(seconds=1)),
        ("2026-03-01T08:00:59.5Z", T + timedelta(hours=8, seconds=59.5), timedelta(microseconds=1)),
    ],
)
def test_a_value_covers_its_last_written_digit(
    text: str, first: datetime, length: timedelta
) -> None:
    span = parse_instant(text)
    assert span.first == first and span.past == first + length


@pytest.mark.parametrize(
    ("text", "first", "past"),
    [
        ("2026-03-01/..", T, None),
        ("2026-03-01/", T, None),
        ("../2026-03-01", None, T + timedelta(days=1)),
        ("2026-03-01/2026-03-01", T, T + timedelta(days=1)),
        ("2026-03-01T00:00:00Z/2026-03-01T00:00:00Z", T, T + timedelta(seconds=1)),
    ],
)
def test_an_interval_runs_from_its_start_to_the_end_of_its_end(
    text: str, first: datetime | None, past: datetime | None
) -> None:
    assert parse_interval(text) == Span(first, past)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-13-01", "is not a date or date-time"),
        ("yesterday", "is not a date or date-time"),
        ("2026-W48", "week or an ordinal date"),  # Python's ISO reading: that Monday
        ("2026W481", "week or an ordinal date"),
        ("2026-335", "week or an ordinal date"),
        ("2026-335T08:00Z", "week or an ordinal date"),
        ("+2026-03-01", "is not a date or date-time"),
        ("2026-03-01T08:00:00 01:00", "%2B"),  # a + the URL turned into a space
        ("..", "cannot be open"),
        ("../..", "at least one end"),
        ("2026-03-02/2026-03-01", "empty"),
        ("2026-03-01T00:00:01Z/2026-03-01T00:00:00Z", "empty"),
        ("2026-01-01/2026-02-01/2026-03-01", "more than two ends"),
    ],
)
def test_a_refusal_says_why(text: str, reason: str) -> None:
    with pytest.raises(SpanError, match=reason):
        parse_interval(text)


@pytest.mark.parametrize(
    "text",
    [
        "20260301T080000Z",
        "2026-W09T08:00:00Z",
        "2026-060T08:00:00Z",
        "2026-03-01T08:00:00",
        "2026-03-01T08:00Z",
        "2026-03-01 08:00:00Z",
        "2026-03-01",
        "2026-02-30T08:00:00Z",
        5,
    ],
)
def test_an_rfc_3339_date_time_has_its_date_its_seconds_and_its_offset(text: object) -> None:
    """CQL2's TIMESTAMP: Python's ISO reading took the compact form and a week's Monday."""
    with pytest.raises(SpanError, match="is not a timestamp"):
        rfc3339_date_time(text)


@pytest.mark.parametrize("text", ["20260301", "2026-W09", "2026-W09-7", "2026-060", "2026-3-1"])
def test_an_rfc_3339_date_is_written_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(SpanError, match="YYYY-MM-DD"):
        rfc3339_date(text)


def test_rfc_3339_values_read_as_the_queries_read_them() -> None:
    assert rfc3339_date("2026-03-01") == T.date()
    assert rfc3339_date_time("2026-03-01t09:00:00.5+01:00") == T + timedelta(hours=8, seconds=0.5)
    assert rfc3339_date_time("2026-03-01T08:00:00Z") == parse_instant("2026-03-01T08:00:00Z").first


def test_a_literal_already_read_is_its_day_or_its_instant() -> None:
    assert Span.of(date(2026, 3, 1)) == Span(T, T + timedelta(days=1))
    assert Span.of(datetime(2026, 3, 1)) == Span(T, T + timedelta(microseconds=1))
    assert Span.of(date.max).past is None and Span.of(datetime.max).past is None  # no overflow


def test_today_is_the_latest_date_in_force_in_the_territories_covered() -> None:
    """At 21:30 UTC it is already the next day in La Réunion (and, an hour or two later, in
    Paris): a transition dated that day is not in the future there."""
    assert today(datetime(2026, 11, 23, 19, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert today(datetime(2026, 11, 23, 20, 0, tzinfo=UTC)) == date(2026, 11, 24)
    assert today() >= datetime.now(UTC).date()
