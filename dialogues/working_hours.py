"""Working hours: when a reminder falls due, counting only the team's working time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Calendar:
    """Working days (0 = Monday) and the working day's start and end, in one time zone."""

    days: frozenset[int]
    start: time
    end: time  # time(0) here means midnight at the end of the day
    zone: ZoneInfo

    @classmethod
    def parse(cls, days: str, hours: str, zone: str = "Europe/London") -> Calendar:
        """From settings such as days "mon-fri" and hours "09:00-17:00"."""
        first, _, last = days.casefold().partition("-")
        span = range(DAYS.index(first), DAYS.index(last or first) + 1)
        start, _, end = hours.partition("-")
        begin = time.fromisoformat(start.strip())
        finish = time(0) if end.strip() in ("24:00", "00:00") else time.fromisoformat(end.strip())
        return cls(frozenset(span), begin, finish, ZoneInfo(zone))

    def day_bounds(self, day: datetime) -> tuple[datetime, datetime]:
        start = datetime.combine(day.date(), self.start, self.zone)
        if self.end == time(0):
            end = datetime.combine(day.date() + timedelta(days=1), time(0), self.zone)
        else:
            end = datetime.combine(day.date(), self.end, self.zone)
        return start, end


def add_working_hours(moment: datetime, hours: float, calendar: Calendar) -> datetime:
    """The moment `hours` of working time after `moment` (an aware datetime)."""
    left = timedelta(hours=hours)
    cursor = moment.astimezone(calendar.zone)
    for _ in range(366 * 2):  # bounded: a calendar with no working days never loops forever
        start, end = calendar.day_bounds(cursor)
        if cursor.weekday() in calendar.days and cursor < end:
            cursor = max(cursor, start)
            if cursor + left <= end:
                return (cursor + left).astimezone(moment.tzinfo)
            left -= end - cursor
        next_day = datetime.combine(cursor.date() + timedelta(days=1), time(0), calendar.zone)
        cursor = next_day
    raise ValueError("the calendar has no working time")
