"""SLA policies: how much business time each kind of answer may take, per priority and team.

Three clocks run on a conversation:

- ``first_response``: from the first customer message to the first agent reply;
- ``next_response``: from a customer message that follows an agent reply to the next
  agent reply;
- ``resolution``: from the first customer message until the conversation is resolved.

Time is counted in the team's business hours (``[calendars.NAME]``) and stands still
while the conversation waits on the customer. At ``warn_at`` of a target a warning is
raised, at the target a breach, and ``escalate_after_minutes`` after the breach an
escalation (supervisors are told; with ``escalate_to`` the conversation moves team).

Configuration::

    [sla]
    warn_at = 0.8
    escalate_after_minutes = 30
    [sla.urgent]
    first_response_minutes = 60
    [calendars.office]
    timezone = "Europe/Berlin"
    mon = "09:00-18:00"     # ... one key per day; a missing day is closed
    holidays = ["2026-12-25"]
    [[teams]]
    calendar = "office"
    [teams.sla.urgent]      # this team's own targets, key by key
    first_response_minutes = 30
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from typing import Annotated

from inbox.config.reader import TableReader, read_section
from inbox.config.rules import Rule
from inbox.errors import ConfigError
from inbox.models import Priority
from inbox.sla.business_hours import ALWAYS, DAY_NAMES, BusinessCalendar, parse_hours


class Target(enum.StrEnum):
    """The clocks of a conversation."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


RESPONSES = (Target.FIRST_RESPONSE, Target.NEXT_RESPONSE)


@dataclass(frozen=True)
class SlaTargets:
    """Business seconds allowed per clock; ``None``: that clock is not measured."""

    first_response: float | None = None
    next_response: float | None = None
    resolution: float | None = None

    def seconds(self, target: Target) -> float | None:
        """The allowance for ``target``."""
        value: float | None = getattr(self, target.value)
        return value


# Used where config.toml says nothing: hours for urgent, a day or two for the rest.
DEFAULT_TARGETS: dict[Priority, SlaTargets] = {
    Priority.URGENT: SlaTargets(3600.0, 2 * 3600.0, 8 * 3600.0),
    Priority.HIGH: SlaTargets(4 * 3600.0, 8 * 3600.0, 24 * 3600.0),
    Priority.NORMAL: SlaTargets(8 * 3600.0, 24 * 3600.0, 72 * 3600.0),
    Priority.LOW: SlaTargets(24 * 3600.0, 48 * 3600.0, 120 * 3600.0),
}


@dataclass(frozen=True)
class TeamSla:
    """One team's calendar, targets per priority and where escalations go."""

    calendar: str = ALWAYS
    targets: dict[Priority, SlaTargets] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    escalate_to: str = ""


def _share(value: float) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1 (a share of the target)"


@dataclass(frozen=True)
class SlaSettings:
    """The SLA engine's settings: the shared ones and the calendars."""

    warn_at: Annotated[float, Rule(check=_share)] = 0.8
    escalate_after_minutes: float = 30.0
    # Longest the watcher sleeps between looks at the store.
    check_interval: Annotated[float, Rule(minimum=0.05)] = 30.0
    targets: dict[Priority, SlaTargets] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    calendars: dict[str, BusinessCalendar] = field(
        default_factory=lambda: {ALWAYS: BusinessCalendar.always()}
    )

    def calendar(self, name: str) -> BusinessCalendar:
        """The calendar called ``name`` (checked at start, so always there)."""
        return self.calendars[name]


def _targets(r: TableReader, base: SlaTargets) -> SlaTargets:
    def minutes(target: Target) -> float | None:
        key = f"{target.value}_minutes"
        if key not in r.table:
            r.seen.add(key)
            return base.seconds(target)
        value = r.number(key, 0.0)
        return value * 60.0 if value > 0 else None  # 0 turns that clock off

    targets = SlaTargets(*(minutes(t) for t in Target))
    r.finish()
    return targets


def parse_priority_targets(
    r: TableReader, base: dict[Priority, SlaTargets]
) -> dict[Priority, SlaTargets]:
    """``[sla.urgent]``-style tables over ``base``; unknown priorities are errors."""
    out = dict(base)
    names = {p.name.lower(): p for p in Priority}
    for key in list(r.table):
        if key in names:
            out[names[key]] = _targets(r.table_of(key), base[names[key]])
    return out


def parse_calendars(r: TableReader) -> dict[str, BusinessCalendar]:
    """``[calendars.NAME]`` tables, plus the built-in ``always``."""
    calendars = {ALWAYS: BusinessCalendar.always()}
    for name in list(r.table):
        if name == ALWAYS:
            raise ConfigError(f"calendars.{ALWAYS}: is built in (open around the clock)")
        c = r.table_of(name)
        week = tuple(
            parse_hours(c.string(day, "", allow_empty=True), c.key(day)) for day in DAY_NAMES
        )
        holidays: set[dt.date] = set()
        for i, text in enumerate(c.strings("holidays", non_empty=False)):
            try:
                holidays.add(dt.date.fromisoformat(text))
            except ValueError as err:
                raise ConfigError(f'{c.key("holidays")}[{i}]: "{text}" is not a date') from err
        calendars[name] = BusinessCalendar(
            name, c.string("timezone", "UTC"), week, frozenset(holidays)
        )
        c.finish()
    return calendars


def parse_sla(r: TableReader, calendars: dict[str, BusinessCalendar]) -> SlaSettings:
    """The ``[sla]`` table."""
    targets = parse_priority_targets(r, DEFAULT_TARGETS)
    return read_section(SlaSettings, r, given={"targets": targets, "calendars": calendars})


def capped(
    targets: dict[Priority, SlaTargets], first_response_hours: float | None
) -> dict[Priority, SlaTargets]:
    """``targets`` with no first response allowed longer than ``first_response_hours``."""
    if first_response_hours is None:
        return dict(targets)
    cap = first_response_hours * 3600.0
    return {
        p: replace(v, first_response=min(v.first_response or cap, cap)) for p, v in targets.items()
    }


def parse_team_sla(t: TableReader, sla: SlaSettings, first_response_hours: float | None) -> TeamSla:
    """A team's ``calendar``, ``escalate_to`` and ``[teams.sla.PRIORITY]`` keys.

    ``first_response_hours`` (the older, shorter way to say it) caps the first-response
    target of every priority.
    """
    own = t.table_of("sla")
    targets = parse_priority_targets(own, capped(sla.targets, first_response_hours))
    own.finish()
    team = read_section(TeamSla, t, given={"targets": targets}, finish=False)
    if team.calendar not in sla.calendars:
        raise ConfigError(f"{t.key('calendar')}: no [calendars.{team.calendar}] table")
    return team
