"""Reminders count working time only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialogues.working_hours import Calendar, add_working_hours

OFFICE = Calendar.parse("mon-fri", "09:00-17:00")
ALWAYS = Calendar.parse("mon-sun", "00:00-24:00")


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Tuesday 10:00 London (GMT in November) + 4h -> 14:00 the same day
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), 4, datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),
        # Tuesday 15:00 + 4h -> 2h today, 2h tomorrow: Wednesday 11:00
        (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), 4, datetime(2026, 11, 25, 11, 0, tzinfo=UTC)),
        # Friday 16:00 + 8h -> 1h Friday, 7h Monday: Monday 16:00
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), 8, datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),
        # Saturday night + 1h -> Monday 10:00
        (datetime(2026, 11, 28, 23, 0, tzinfo=UTC), 1, datetime(2026, 11, 30, 10, 0, tzinfo=UTC)),
        # Before opening: 07:00 + 1h -> 10:00
        (datetime(2026, 11, 24, 7, 0, tzinfo=UTC), 1, datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        # British Summer Time: 9:00 London is 08:00 UTC; Monday 6 July 08:30 UTC + 1h -> 09:30 UTC
        (datetime(2026, 7, 6, 8, 30, tzinfo=UTC), 1, datetime(2026, 7, 6, 9, 30, tzinfo=UTC)),
    ],
)
def test_office_hours(start: datetime, hours: float, due: datetime) -> None:
    assert add_working_hours(start, hours, OFFICE) == due


def test_a_calendar_that_is_always_open_adds_plain_time() -> None:
    start = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    assert add_working_hours(start, 1, ALWAYS) == datetime(2026, 11, 29, 0, 30, tzinfo=UTC)


def test_no_working_days_is_refused() -> None:
    closed = Calendar(frozenset(), OFFICE.start, OFFICE.end, OFFICE.zone)
    with pytest.raises(ValueError, match="no working time"):
        add_working_hours(datetime(2026, 11, 24, tzinfo=UTC), 1, closed)
