"""The SLA engine with a controlled clock: business hours, holidays, pauses, warnings,
breaches and escalations.

Messages go through the real ingest transaction and agent actions through the real desk;
the only thing the tests control is what time it is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings, parse_settings
from inbox.errors import ConfigError
from inbox.models import Envelope, Priority, RoutingDecision, TriageDecision
from inbox.pipeline.ingest.batch import IngestPlan, ingest_batch
from inbox.sla.business_hours import BusinessCalendar, parse_hours
from inbox.sla.watcher import SlaWatcher
from inbox.store.accounts import Accounts, Agent
from inbox.store.desk import Desk
from inbox.store.engine import create_engine, migrate
from inbox.store.sla_clocks import clocks_for
from inbox.store.tables import conversations, events, messages
from inbox.text import format_reference
from tests.support.config import make_raw_config
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def at(text: str) -> float:
    """A Berlin wall-clock time as a timestamp: ``at("2026-11-20 17:55")``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def wall(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, BERLIN).strftime("%a %Y-%m-%d %H:%M")


def office(*holidays: str) -> BusinessCalendar:
    return BusinessCalendar(
        "office",
        "Europe/Berlin",
        tuple(
            parse_hours(WEEKDAYS.get(d, ""), d)
            for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ),
        frozenset(dt.date.fromisoformat(h) for h in holidays),
    )


def test_friday_evening_plus_one_business_hour_is_monday_morning() -> None:
    calendar = office()
    assert wall(calendar.add(at("2026-11-20 17:55"), 3600)) == "Mon 2026-11-23 09:55"
    # Before opening, the clock starts at opening; at the weekend, on Monday.
    assert wall(calendar.add(at("2026-11-23 07:00"), 3600)) == "Mon 2026-11-23 10:00"
    assert wall(calendar.add(at("2026-11-21 12:00"), 30 * 60)) == "Mon 2026-11-23 09:30"
    # between() measures what add() adds, across the weekend.
    assert calendar.between(at("2026-11-20 17:55"), at("2026-11-23 09:55")) == 3600


def test_holidays_are_skipped() -> None:
    calendar = office("2026-12-24", "2026-12-25")
    # Wednesday 23 December 17:30 + 1 business hour: Thu and Fri are holidays.
    assert wall(calendar.add(at("2026-12-23 17:30"), 3600)) == "Mon 2026-12-28 09:30"
    assert calendar.between(at("2026-12-23 17:30"), at("2026-12-28 09:30")) == 3600


def test_daylight_saving_change_is_the_wall_clock_s() -> None:
    # Berlin moves to summer time on Sunday 29 March 2026; a 24/7 calendar in Berlin
    # counts the real hour that day has one fewer of.
    calendar = BusinessCalendar(
        "berlin", "Europe/Berlin", tuple(((0, 1440),) for _ in range(7)), frozenset()
    )
    assert calendar.between(at("2026-03-29 00:00"), at("2026-03-30 00:00")) == 23 * 3600
    assert office().between(at("2026-03-27 09:00"), at("2026-03-30 18:00")) == 18 * 3600


def test_bad_calendars_are_refused_with_the_key() -> None:
    with pytest.raises(ConfigError, match=r"calendars.office.mon"):
        parse_settings(_raw(Path("/tmp"), mon="9-17"), Path("/tmp"))
    with pytest.raises(ConfigError, match="unknown time zone"):
        parse_settings(_raw(Path("/tmp"), timezone="Mars/Olympus"), Path("/tmp"))
    with pytest.raises(ConfigError, match="never open"):
        BusinessCalendar("x", "UTC", tuple(() for _ in range(7)))


def _raw(tmp_path: Path, **calendar: Any) -> dict[str, Any]:
    raw = make_raw_config(tmp_path)
    raw["calendars"] = {
        "office": {"timezone": "Europe/Berlin", **WEEKDAYS, "holidays": ["2026-12-25"], **calendar}
    }
    raw["sla"] = {
        "warn_at": 0.8,
        "escalate_after_minutes": 30,
        "normal": {
            "first_response_minutes": 60,
            "next_response_minutes": 120,
            "resolution_minutes": 480,
        },
    }
    for team in raw["teams"]:
        team.pop("first_response_hours", None)
        team["calendar"] = "office"
    raw["teams"][0]["escalate_to"] = "general"  # billing's breaches go to Customer Care
    return raw


@dataclass
class Clock:
    """The time the desk and the watcher see; tests move it."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    desk: Desk
    agent: Agent
    references: int = 3000

    async def customer(self, text: str, when: str, address: str = "ann@example.com") -> int:
        """A web-form message from ``address`` at Berlin time ``when``; returns the ticket."""
        self.references += 1
        routing = RoutingDecision("billing", 0.9, "billing", 0.5, False, ())
        plan = IngestPlan(
            Envelope("form", f"form-{self.references}", "email", address, text, at(when)),
            self.references,
            routing,
            TriageDecision(Priority.NORMAL, ()),
        )
        async with self.engine.begin() as conn:
            [result] = await ingest_batch(conn, [plan], self.settings, lambda _env: "standard")
        return result.reference

    async def conversation(self, reference: int) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    select(conversations).where(conversations.c.reference == reference)
                )
            ).one()

    async def events(self, kind: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(events).where(events.c.kind == kind))).all())


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = parse_settings(_raw(tmp_path), tmp_path)
    engine = create_engine(settings.store.url)
    await migrate(engine)
    clock = Clock(at("2026-11-20 17:55"))
    desk = Desk(
        engine,
        {t.name for t in settings.all_teams},
        settings.routing.fallback_team,
        clocks=clocks_for(settings),
        clock=clock,
    )
    agent, _token = await Accounts(engine).add_agent("alice", ["billing", "general"])
    yield World(settings, engine, clock, desk, agent)
    await engine.dispose()


async def test_a_friday_evening_ticket_is_due_monday_and_the_customer_is_told(
    world: World,
) -> None:
    ref = await world.customer("I was charged twice", "2026-11-20 17:55")
    row = await world.conversation(ref)
    assert wall(row.sla_due) == "Mon 2026-11-23 09:55"
    assert wall(row.first_response_due) == "Mon 2026-11-23 09:55"
    assert row.sla_state == "ok"
    view = await world.desk.view(world.agent, ref)
    clocks = {c["target"]: c for c in view.sla}
    assert wall(clocks["first_response"]["due_at"]) == "Mon 2026-11-23 09:55"
    assert wall(clocks["first_response"]["warn_at"]) == "Mon 2026-11-23 09:43"  # 48 of 60 min
    assert wall(clocks["resolution"]["due_at"]) == "Mon 2026-11-23 16:55"
    async with world.engine.connect() as conn:
        ack = await conn.scalar(select(messages.c.text).where(messages.c.author == "bot"))
    assert "within 1 business hour" in str(ack)


async def test_waiting_on_the_customer_pauses_the_clock(world: World) -> None:
    ref = await world.customer("My invoice is wrong", "2026-11-23 09:00")
    world.clock.now = at("2026-11-23 10:00")
    await world.desk.reply(world.agent, ref, "Which invoice do you mean?")
    view = await world.desk.view(world.agent, ref)
    clocks = {c["target"]: c for c in view.sla}
    assert clocks["first_response"]["state"] == "stopped"
    assert clocks["first_response"]["met"] is True
    assert clocks["resolution"]["state"] == "paused"
    assert clocks["resolution"]["remaining_seconds"] == 7 * 3600
    assert (await world.conversation(ref)).sla_state == "paused"

    # The customer answers the next morning: 7 business hours were left, so resolution is
    # due at 16:30, and the answer the customer is now owed has its own clock.
    await world.customer(f"About {format_reference(ref)}: the one from October", "2026-11-24 09:30")
    view = await world.desk.view(world.agent, ref)
    running = {c["target"]: c for c in view.sla if c["state"] == "running"}
    assert wall(running["resolution"]["due_at"]) == "Tue 2026-11-24 16:30"
    assert wall(running["next_response"]["due_at"]) == "Tue 2026-11-24 11:30"
    row = await world.conversation(ref)
    assert (row.status, wall(row.sla_due), row.sla_state) == (
        "open",
        "Tue 2026-11-24 11:30",
        "ok",
    )

    world.clock.now = at("2026-11-24 12:00")  # late this time
    await world.desk.reply(world.agent, ref, "Corrected, sorry for the wait.")
    view = await world.desk.view(world.agent, ref)
    answered = [c for c in view.sla if c["target"] == "next_response"]
    assert [c["met"] for c in answered] == [False]
    world.clock.now = at("2026-11-24 12:05")
    await world.desk.resolve(world.agent, ref)
    view = await world.desk.view(world.agent, ref)
    assert all(c["state"] == "stopped" for c in view.sla)
    assert (await world.conversation(ref)).sla_state is None


async def test_the_warning_comes_before_the_breach_then_the_escalation(world: World) -> None:
    ref = await world.customer("Refund please", "2026-11-23 09:00")
    alerts: list[str] = []
    watcher = SlaWatcher(
        world.engine,
        clocks_for(world.settings),
        clock=world.clock,
        on_alert=lambda batch: alerts.extend(a.kind for a in batch),
    )
    timeline = [
        ("2026-11-23 09:47", []),
        ("2026-11-23 09:48", ["sla_warning"]),  # 80 % of the hour
        ("2026-11-23 09:59", []),
        ("2026-11-23 10:00", ["sla_breached"]),
        ("2026-11-23 10:29", []),
        ("2026-11-23 10:30", ["sla_escalated"]),  # 30 minutes after the breach
        ("2026-11-23 12:00", []),  # each alert once
    ]
    for when, expected in timeline:
        world.clock.now = at(when)
        raised = await watcher.check()
        assert [a.kind for a in raised] == expected, when
    assert alerts == ["sla_warning", "sla_breached", "sla_escalated"]
    row = await world.conversation(ref)
    assert (row.team, row.sla_state) == ("general", "breached")  # billing escalates there
    moved = await world.events("reassigned")
    assert [(e.actor, e.data) for e in moved] == [("sla", {"from": "billing", "to": "general"})]
    breach = (await world.events("sla_breached"))[0]
    assert breach.data["target"] == "first_response"
    # The resolution clock's warning (80 % of 8 h = 15:24) is the next mark.
    assert wall(await watcher.next_mark() or 0) == "Mon 2026-11-23 15:24"


async def test_two_watchers_raise_each_alert_once(world: World) -> None:
    for i in range(5):
        await world.customer(f"Question {i} about my bill", "2026-11-23 09:00", f"c{i}@example.com")
    world.clock.now = at("2026-11-23 10:00")
    clocks = clocks_for(world.settings)
    watchers = [SlaWatcher(world.engine, clocks, clock=world.clock) for _ in range(2)]
    batches = await asyncio.gather(*(w.check() for w in watchers))
    raised = sorted((a.kind, a.reference) for batch in batches for a in batch)
    assert len(raised) == 10 and len(set(raised)) == 10  # a warning and a breach each
    assert len(await world.events("sla_breached")) == 5


async def test_an_agent_answer_before_the_mark_means_no_alert(world: World) -> None:
    ref = await world.customer("Card declined", "2026-11-23 09:00")
    watcher = SlaWatcher(world.engine, clocks_for(world.settings), clock=world.clock)
    world.clock.now = at("2026-11-23 09:30")
    await world.desk.reply(world.agent, ref, "Try again now, please.")
    world.clock.now = at("2026-11-23 17:00")
    assert await watcher.check() == []
    assert await watcher.next_mark() is None  # waiting on the customer: nothing runs


async def test_the_running_service_warns_then_breaches_on_its_own(
    tmp_path: Path, service_factory: Any
) -> None:
    raw = make_raw_config(tmp_path)
    # Targets of seconds, so the real clock passes them during the test.
    raw["sla"] = {"warn_at": 0.5, "normal": {"first_response_minutes": 0.05}}
    for team in raw["teams"]:
        team.pop("first_response_hours", None)
    raw["routing"]["fallback_first_response_hours"] = 0.05 / 60
    raw["kb"]["answers"] = False  # the clock is under test: the bot would hold the ticket
    service = await service_factory(parse_settings(raw, tmp_path))
    agent_token = (await Accounts(service.engine).add_agent("sam", ["billing", "triage"]))[1]
    base = f"http://127.0.0.1:{service.port}"
    headers = {"Authorization": f"Bearer {agent_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            base + "/api/messages",
            json={"email": "zoe@example.com", "message": "I was charged twice this month"},
        ) as r:
            reference = (await r.json())["reference"]

        async def alerts() -> list[str] | None:
            async with http.get(f"{base}/api/conversations/{reference}") as r:
                if r.status != 200:
                    return None
                view = await r.json()
            kinds = [e["kind"] for e in view["events"] if e["kind"].startswith("sla_")]
            return kinds if "sla_breached" in kinds else None

        assert await until(alerts, timeout=60) == ["sla_warning", "sla_breached"]
        async with http.get(base + "/api/conversations") as r:
            [listed] = (await r.json())["conversations"]
        assert listed["sla_state"] == "breached"


async def test_many_due_at_once_are_raised_in_small_transactions_all_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After an outage thousands are due at once: raised a few per transaction (so writers
    # never wait long), every one of them, once.
    monkeypatch.setattr("inbox.sla.watcher.CLAIM_BATCH", 2)
    monkeypatch.setattr("inbox.sla.watcher.BATCH_GAP", 0.0)
    for i in range(5):
        await world.customer(f"Question {i} about my bill", "2026-11-23 09:00", f"c{i}@example.com")
    world.clock.now = at("2026-11-23 10:00")
    watcher = SlaWatcher(world.engine, clocks_for(world.settings), clock=world.clock)
    raised = sorted((a.kind, a.reference) for a in await watcher.check())
    assert len(raised) == 10 and len(set(raised)) == 10  # a warning and a breach each
    assert await watcher.check() == []
    assert len(await world.events("sla_breached")) == 5
