"""Business hours: when a team works, in its own time zone, holidays excluded.

An SLA target of "1 business hour" means one hour of the team's opening time, not of
the wall clock: a message on Friday at 17:55 to a team open 09:00-18:00 on weekdays is
due on Monday at 09:55. ``add`` moves forward by business time, ``between`` measures it.
Both work on Unix timestamps and convert through the calendar's IANA time zone, so a
daylight-saving change shortens or lengthens the day exactly as the wall clock does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inbox.errors import ConfigError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "always"
_SEARCH_DAYS = 3 * 366  # a target never reaches further than this into the calendar

Interval = tuple[int, int]  # minutes after local midnight, end exclusive (1440 = 24:00)


def parse_hours(text: str, where: str) -> tuple[Interval, ...]:
    """``"09:00-12:00, 13:00-17:30"`` as minute intervals; ``""`` or ``"closed"`` is none."""
    if text.strip().lower() in ("", "closed"):
        return ()
    intervals: list[Interval] = []
    for part in text.split(","):
        try:
            start_s, end_s = (p.strip() for p in part.split("-"))
            start, end = _minute(start_s), _minute(end_s)
        except ValueError as err:
            raise ConfigError(f'{where}: "{part.strip()}" is not like "09:00-17:30"') from err
        if not start < end:
            raise ConfigError(f"{where}: {part.strip()} ends before it starts")
        if intervals and start < intervals[-1][1]:
            raise ConfigError(f"{where}: the intervals must be in order and not overlap")
        intervals.append((start, end))
    return tuple(intervals)


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if not (len(minutes) == 2 and 0 <= int(minutes) < 60 and 0 <= value <= 1440):
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours per weekday (Monday first), holidays, and the zone they are in."""

    name: str
    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ConfigError(f"calendars.{self.name}: needs the hours of all seven days")
        if not any(self.week):
            raise ConfigError(f"calendars.{self.name}: is never open")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ConfigError(
                f"calendars.{self.name}.timezone: unknown time zone {self.timezone!r}"
            ) from err

    @classmethod
    def always(cls) -> BusinessCalendar:
        """Open around the clock, every day: business time is wall-clock time."""
        return cls(ALWAYS, "UTC", tuple(((0, 1440),) for _ in DAY_NAMES))

    @property
    def round_the_clock(self) -> bool:
        """True when every moment is business time."""
        return not self.holidays and all(day == ((0, 1440),) for day in self.week)

    def _open(self, start: float) -> Iterator[tuple[float, float]]:
        """The opening intervals as timestamps, from the day of ``start`` onwards."""
        zone = ZoneInfo(self.timezone)
        day = dt.datetime.fromtimestamp(start, zone).date()
        for _ in range(_SEARCH_DAYS):
            if day not in self.holidays:
                for begin, end in self.week[day.weekday()]:
                    yield _stamp(day, begin, zone), _stamp(day, end, zone)
            day += dt.timedelta(days=1)

    def add(self, start: float, seconds: float) -> float:
        """The moment ``seconds`` of business time after ``start``."""
        if self.round_the_clock:
            return start + seconds
        left = max(0.0, seconds)
        for begin, end in self._open(start):
            if end <= start:
                continue
            begin = max(begin, start)
            if left <= end - begin:
                return begin + left
            left -= end - begin
        raise ConfigError(f"calendars.{self.name}: no opening hours within {_SEARCH_DAYS} days")

    def between(self, start: float, end: float) -> float:
        """Seconds of business time from ``start`` to ``end`` (0 if end is earlier)."""
        if end <= start:
            return 0.0
        if self.round_the_clock:
            return end - start
        total = 0.0
        for begin, finish in self._open(start):
            if begin >= end:
                break
            total += max(0.0, min(finish, end) - max(begin, start))
        return total


def _stamp(day: dt.date, minute: int, zone: ZoneInfo) -> float:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    if minute >= 1440:
        following = day + dt.timedelta(days=1)
        return dt.datetime.combine(following, dt.time(0), tzinfo=zone).timestamp()
    local = midnight.replace(hour=minute // 60, minute=minute % 60)
    return local.timestamp()
