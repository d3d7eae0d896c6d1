"""An admin's changes to people and teams, each written with its audit event.

Every change runs in one transaction with the ``audit_log`` row that records it (who,
what, to whom, the details; never a password), so no change goes unrecorded. Two rules
hold whoever asks: nobody disables themselves, and the last enabled admin is neither
disabled nor demoted (an installation without an admin could not be administered).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, InboxError
from inbox.store.accounts import (
    Agent,
    agent_id_of,
    check_role,
    hash_password,
    insert_agent,
    store_password,
    unlock_account,
)
from inbox.store.engine import now
from inbox.store.locks import serialize
from inbox.store.tables import agent_teams, agents, audit_log, login_throttle, sessions

ADMINS_LOCK = "accounts:admins"  # changes that could leave no admin run one at a time


class RuleBroken(Conflict):
    """A change the rules refuse: disabling oneself, or leaving no enabled admin."""


@dataclass(frozen=True)
class Person:
    """One person as the admin pages show them."""

    name: str
    role: str
    teams: tuple[str, ...]
    created_at: float
    disabled_at: float | None
    has_password: bool
    locked: bool  # some address is locked out after wrong passwords

    @property
    def disabled(self) -> bool:
        """True while an admin has disabled the person."""
        return self.disabled_at is not None


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change to a person or a team."""

    actor: str
    action: str
    target: str
    details: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class NewPerson:
    """A person just created: their API token, and their password when one was generated
    (both shown once)."""

    agent: Agent
    token: str
    generated_password: str | None


async def record_audit(
    conn: AsyncConnection, actor: str, action: str, target: str, details: dict[str, Any]
) -> None:
    """Appends one audit event in ``conn``'s transaction."""
    await conn.execute(
        insert(audit_log).values(
            actor=actor, action=action, target=target, data=details, created_at=now()
        )
    )


def generated_password() -> str:
    """A password long enough for the rules, to be shown once."""
    return secrets.token_urlsafe(12)


class AccountAdmin:
    """People and team members as admins change them; each change is audited."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def people(self) -> list[Person]:
        """Everyone, by name."""
        async with self.engine.connect() as conn:
            return await _people(conn, None)

    async def person(self, name: str) -> Person:
        """The person called ``name``; NotFound if nobody is."""
        async with self.engine.connect() as conn:
            await agent_id_of(conn, name)
            return (await _people(conn, name))[0]

    async def audit(self, limit: int = 50, target: str | None = None) -> list[AuditEntry]:
        """The latest audit events, newest first (those about ``target`` only, if given)."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AuditEntry(r.actor, r.action, r.target, dict(r.data), r.created_at) for r in rows]

    async def create(
        self, actor: str, name: str, teams: list[str], role: str, password: str | None
    ) -> NewPerson:
        """Creates a person; with no ``password`` one is generated."""
        check_role(role)
        generated = generated_password() if password is None else None
        hashed = await hash_password(password if password is not None else str(generated))
        async with self.engine.begin() as conn:
            agent, token = await insert_agent(conn, name, teams, role, hashed)
            await record_audit(
                conn, actor, "user_created", name, {"role": role, "teams": list(agent.teams)}
            )
        return NewPerson(agent, token, generated)

    async def set_teams(self, actor: str, name: str, teams: list[str]) -> None:
        """Puts the person in exactly ``teams``."""
        async with self.engine.begin() as conn:
            agent_id = await agent_id_of(conn, name)
            before = set(await _teams(conn, agent_id))
            after = set(teams)
            if before == after:
                return
            await conn.execute(delete(agent_teams).where(agent_teams.c.agent_id == agent_id))
            for team in sorted(after):
                await conn.execute(insert(agent_teams).values(agent_id=agent_id, team=team))
            details = {"added": sorted(after - before), "removed": sorted(before - after)}
            await record_audit(conn, actor, "teams_changed", name, details)

    async def add_member(self, actor: str, team: str, name: str) -> None:
        """Adds the person to ``team`` (nothing if they are in it)."""
        async with self.engine.begin() as conn:
            agent_id = await agent_id_of(conn, name)
            if team in await _teams(conn, agent_id):
                return
            await conn.execute(insert(agent_teams).values(agent_id=agent_id, team=team))
            await record_audit(conn, actor, "team_member_added", team, {"person": name})

    async def remove_member(self, actor: str, team: str, name: str) -> None:
        """Takes the person out of ``team`` (nothing if they are not in it)."""
        async with self.engine.begin() as conn:
            agent_id = await agent_id_of(conn, name)
            gone = await conn.execute(
                delete(agent_teams).where(
                    agent_teams.c.agent_id == agent_id, agent_teams.c.team == team
                )
            )
            if gone.rowcount:
                await record_audit(conn, actor, "team_member_removed", team, {"person": name})

    async def set_role(self, actor: str, name: str, role: str) -> None:
        """Gives the person ``role``; the last enabled admin keeps theirs."""
        check_role(role)
        async with self.engine.begin() as conn:
            await serialize(conn, ADMINS_LOCK)
            agent_id = await agent_id_of(conn, name)
            before = await conn.scalar(select(agents.c.role).where(agents.c.id == agent_id))
            if before == role:
                return
            if before == "admin":
                await _keep_an_admin(conn, agent_id, f"{name} is the last admin")
            await conn.execute(update(agents).where(agents.c.id == agent_id).values(role=role))
            await record_audit(conn, actor, "role_changed", name, {"from": before, "to": role})

    async def disable(self, actor: str, name: str) -> None:
        """Disables the person: their sessions end now, their token and password are
        refused until an admin enables them again."""
        if actor == name:
            raise RuleBroken("you cannot disable yourself")
        async with self.engine.begin() as conn:
            await serialize(conn, ADMINS_LOCK)
            agent_id = await agent_id_of(conn, name)
            row = (
                await conn.execute(
                    select(agents.c.role, agents.c.disabled_at).where(agents.c.id == agent_id)
                )
            ).one()
            if row.disabled_at is not None:
                return
            if row.role == "admin":
                await _keep_an_admin(conn, agent_id, f"{name} is the last admin")
            await conn.execute(
                update(agents).where(agents.c.id == agent_id).values(disabled_at=now())
            )
            ended = await conn.execute(delete(sessions).where(sessions.c.agent_id == agent_id))
            await record_audit(
                conn, actor, "user_disabled", name, {"sessions_ended": ended.rowcount}
            )

    async def enable(self, actor: str, name: str) -> None:
        """Enables a disabled person again (their token works again; they sign in anew)."""
        async with self.engine.begin() as conn:
            agent_id = await agent_id_of(conn, name)
            done = await conn.execute(
                update(agents)
                .where(agents.c.id == agent_id, agents.c.disabled_at.is_not(None))
                .values(disabled_at=None)
            )
            if done.rowcount:
                await record_audit(conn, actor, "user_enabled", name, {})

    async def reset_password(self, actor: str, name: str, password: str | None) -> str | None:
        """Sets a new password (generated when ``password`` is None: returned to be shown
        once); unlocks the account and ends its sessions."""
        generated = generated_password() if password is None else None
        hashed = await hash_password(password if password is not None else str(generated))
        async with self.engine.begin() as conn:
            agent_id = await agent_id_of(conn, name)
            await store_password(conn, agent_id, hashed)
            await record_audit(
                conn, actor, "password_reset", name, {"generated": generated is not None}
            )
        return generated

    async def unlock(self, actor: str, name: str) -> None:
        """Forgets the person's wrong passwords from every address: they sign in again."""
        async with self.engine.begin() as conn:
            await unlock_account(conn, await agent_id_of(conn, name))
            await record_audit(conn, actor, "user_unlocked", name, {})


async def _keep_an_admin(conn: AsyncConnection, leaving: int, message: str) -> None:
    others = await conn.scalar(
        select(func.count())
        .select_from(agents)
        .where(agents.c.role == "admin", agents.c.disabled_at.is_(None), agents.c.id != leaving)
    )
    if not others:
        raise RuleBroken(message + ": make someone else an admin first")


async def _teams(conn: AsyncConnection, agent_id: int) -> list[str]:
    found = await conn.execute(select(agent_teams.c.team).where(agent_teams.c.agent_id == agent_id))
    return list(found.scalars())


async def _people(conn: AsyncConnection, name: str | None) -> list[Person]:
    query = select(
        agents.c.id,
        agents.c.name,
        agents.c.role,
        agents.c.created_at,
        agents.c.disabled_at,
        agents.c.password_hash,
    ).order_by(agents.c.name)
    if name is not None:
        query = query.where(agents.c.name == name)
    rows = (await conn.execute(query)).all()
    ids = [r.id for r in rows]
    teams: dict[int, list[str]] = {}
    for agent_id, team in await conn.execute(
        select(agent_teams.c.agent_id, agent_teams.c.team)
        .where(agent_teams.c.agent_id.in_(ids))
        .order_by(agent_teams.c.team)
    ):
        teams.setdefault(agent_id, []).append(team)
    locked = set(
        (
            await conn.execute(
                select(login_throttle.c.agent_id).where(
                    login_throttle.c.agent_id.in_(ids), login_throttle.c.locked_until > now()
                )
            )
        ).scalars()
    )
    return [
        Person(
            r.name,
            r.role,
            tuple(teams.get(r.id, [])),
            r.created_at,
            r.disabled_at,
            bool(r.password_hash),
            r.id in locked,
        )
        for r in rows
    ]


def check_new_name(name: str) -> None:
    """Refuses a name the admin pages could not put in a link (``..`` among them)."""
    plain = all(c.isascii() and (c.isalnum() or c in "._-@") for c in name)
    if not name or len(name) > 100 or not plain or not name[0].isalnum():
        raise InboxError("a name is 1 to 100 letters, digits or . _ - @, from a letter or digit")
