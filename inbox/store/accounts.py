"""People who work the inbox: agents, supervisors and admins, with their teams.

A person signs in to the web app with a password (kept as an argon2id hash) and gets a
session; scripts use a bearer token (kept as a SHA-256 hash). Repeated wrong passwords
from one client address lock the account for that address only, for a while: whoever
guesses from elsewhere cannot lock its owner out. An admin unlocks it at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, InboxError, NotFound
from inbox.store.engine import now
from inbox.store.locks import serialize
from inbox.store.tables import agent_teams, agents, login_throttle, sessions

ROLES = ("agent", "supervisor", "admin")
MAX_FAILED_LOGINS = 5  # wrong passwords in a row, from one address, for one account
LOCK_SECONDS = 15 * 60  # how long that address is then refused; older failures lapse
SESSION_SECONDS = 12 * 3600  # one working day; signing in again starts a new one
MIN_PASSWORD_CHARS = 10
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs what a wrong password does.
_DECOY = _hasher.hash(secrets.token_urlsafe(16))


class LoginRefused(InboxError):
    """Wrong name or password, or the account is locked (the message does not say which)."""


@dataclass(frozen=True)
class Agent:
    """A person who answers customers, the teams whose queues they work, and their role."""

    agent_id: int
    name: str
    teams: tuple[str, ...]
    role: str = "agent"

    @property
    def supervises(self) -> bool:
        """True for supervisors and admins: they see the dashboard and the alerts."""
        return self.role in ("supervisor", "admin")


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the token its forms must carry."""

    agent: Agent
    csrf: str
    expires_at: float


def token_hash(token: str) -> str:
    """What the store keeps of a token or session id."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    """Refuses passwords too short to be worth hashing."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InboxError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


class Accounts:
    """Creates people, checks passwords and tokens, opens and closes sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_agent(
        self,
        name: str,
        teams: list[str],
        *,
        role: str = "agent",
        password: str | None = None,
    ) -> tuple[Agent, str]:
        """Creates a person; returns them and their API token (shown once, never stored)."""
        check_role(role)
        password_hash = None if password is None else await hash_password(password)
        async with self.engine.begin() as conn:
            return await insert_agent(conn, name, teams, role, password_hash)

    async def set_password(self, name: str, password: str) -> None:
        """Sets a new password, unlocks the account and ends its sessions."""
        hashed = await hash_password(password)
        async with self.engine.begin() as conn:
            await store_password(conn, await agent_id_of(conn, name), hashed)

    async def unlock(self, name: str) -> None:
        """Forgets the account's wrong passwords from every address (an admin's unlock)."""
        async with self.engine.begin() as conn:
            await unlock_account(conn, await agent_id_of(conn, name))

    async def by_token(self, token: str) -> Agent | None:
        """The person holding API ``token``, if any (nobody, for a disabled person)."""
        async with self.engine.connect() as conn:
            agent_id = await conn.scalar(
                select(agents.c.id).where(
                    agents.c.token_hash == token_hash(token), agents.c.disabled_at.is_(None)
                )
            )
            return None if agent_id is None else await _agent(conn, int(agent_id))

    async def login(self, name: str, password: str, source: str) -> Agent:
        """Checks a password from client address ``source``; MAX_FAILED_LOGINS wrong ones
        in a row from there lock the account for that address (LOCK_SECONDS). A disabled
        person is refused as an unknown name is."""
        stamp = now()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(agents.c.id, agents.c.password_hash).where(
                        agents.c.name == name, agents.c.disabled_at.is_(None)
                    )
                )
            ).first()
            locked_until = None
            if row is not None:
                locked_until = await conn.scalar(
                    select(login_throttle.c.locked_until).where(
                        login_throttle.c.agent_id == row.id, login_throttle.c.source == source
                    )
                )
        stored = row.password_hash if row is not None and row.password_hash else _DECOY
        right = await asyncio.to_thread(_verify, stored, password)
        if row is None or not row.password_hash:
            raise LoginRefused("wrong name or password")
        if locked_until is not None and locked_until > stamp:
            raise LoginRefused("wrong name or password")
        if not right:
            await self._count_failure(int(row.id), source, stamp)  # committed, then refused
            raise LoginRefused("wrong name or password")
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(login_throttle).where(
                    login_throttle.c.agent_id == row.id, login_throttle.c.source == source
                )
            )
            if _hasher.check_needs_rehash(row.password_hash):
                hashed = await asyncio.to_thread(_hasher.hash, password)
                await conn.execute(
                    update(agents).where(agents.c.id == row.id).values(password_hash=hashed)
                )
            return await _agent(conn, int(row.id))

    async def _count_failure(self, agent_id: int, source: str, stamp: float) -> None:
        """One more wrong password from ``source``; the last of too many locks it out."""
        t = login_throttle
        key = (t.c.agent_id == agent_id) & (t.c.source == source)
        async with self.engine.begin() as conn:
            # One account's counts change one at a time (no lost count, no deadlock).
            await serialize(conn, f"login:{agent_id}")
            # Rows whose failures lapsed and whose lock ran out say nothing any more.
            await conn.execute(
                delete(t).where(
                    t.c.agent_id == agent_id,
                    t.c.updated_at < stamp - LOCK_SECONDS,
                    (t.c.locked_until.is_(None)) | (t.c.locked_until < stamp),
                )
            )
            row = (await conn.execute(select(t.c.failures, t.c.locked_until).where(key))).first()
            if row is not None and row.locked_until is not None and row.locked_until > stamp:
                return  # locked by a guess that ran alongside this one: the lock stands
            count = 1 if row is None else int(row.failures) + 1
            values = {"failures": count, "locked_until": None, "updated_at": stamp}
            if count >= MAX_FAILED_LOGINS:
                values.update(failures=0, locked_until=stamp + LOCK_SECONDS)
            if row is None:
                await conn.execute(insert(t).values(agent_id=agent_id, source=source, **values))
            else:
                await conn.execute(update(t).where(key).values(**values))

    async def open_session(self, agent: Agent) -> tuple[str, Session]:
        """A new session for ``agent``: the cookie value (never stored) and the session."""
        value = secrets.token_urlsafe(32)
        stamp = now()
        session = Session(agent, secrets.token_urlsafe(32), stamp + SESSION_SECONDS)
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expires_at < stamp))
            await conn.execute(
                insert(sessions).values(
                    id_hash=token_hash(value),
                    agent_id=agent.agent_id,
                    csrf=session.csrf,
                    created_at=stamp,
                    expires_at=session.expires_at,
                )
            )
        return value, session

    async def session(self, value: str) -> Session | None:
        """The live session a cookie value names, if any (none of a disabled person's)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.agent_id, sessions.c.csrf, sessions.c.expires_at)
                    .join(agents, agents.c.id == sessions.c.agent_id)
                    .where(
                        sessions.c.id_hash == token_hash(value),
                        sessions.c.expires_at > now(),
                        agents.c.disabled_at.is_(None),
                    )
                )
            ).first()
            if row is None:
                return None
            return Session(await _agent(conn, int(row.agent_id)), row.csrf, row.expires_at)

    async def close_session(self, value: str) -> None:
        """Signs a browser out."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id_hash == token_hash(value)))


def check_role(role: str) -> None:
    """Refuses a role that is not one of ROLES."""
    if role not in ROLES:
        raise InboxError(f"role must be one of {', '.join(ROLES)}")


async def hash_password(password: str) -> str:
    """The stored form of a new password (checked against the rules first)."""
    check_password_rules(password)
    return await asyncio.to_thread(_hasher.hash, password)


async def insert_agent(
    conn: AsyncConnection, name: str, teams: list[str], role: str, password_hash: str | None
) -> tuple[Agent, str]:
    """Adds a person in ``conn``'s transaction; returns them and their new API token."""
    token = "ibx_" + secrets.token_urlsafe(32)
    try:  # a failed insert leaves the transaction unusable: the caller's rolls back
        agent_id = (
            await conn.execute(
                insert(agents)
                .values(
                    name=name,
                    token_hash=token_hash(token),
                    created_at=now(),
                    role=role,
                    password_hash=password_hash,
                )
                .returning(agents.c.id)
            )
        ).scalar_one()
    except IntegrityError as err:
        raise Conflict(f"someone called {name!r} already exists") from err
    for team in dict.fromkeys(teams):
        await conn.execute(insert(agent_teams).values(agent_id=agent_id, team=team))
    return Agent(int(agent_id), name, tuple(dict.fromkeys(teams)), role), token


async def agent_id_of(conn: AsyncConnection, name: str) -> int:
    """The id of the person called ``name``; NotFound if nobody is."""
    agent_id = await conn.scalar(select(agents.c.id).where(agents.c.name == name))
    if agent_id is None:
        raise NotFound(f"nobody called {name!r}")
    return int(agent_id)


async def store_password(conn: AsyncConnection, agent_id: int, password_hash: str) -> None:
    """Sets a person's new password: unlocks the account and ends its sessions."""
    await conn.execute(
        update(agents).where(agents.c.id == agent_id).values(password_hash=password_hash)
    )
    await unlock_account(conn, agent_id)
    await conn.execute(delete(sessions).where(sessions.c.agent_id == agent_id))


async def unlock_account(conn: AsyncConnection, agent_id: int) -> None:
    """Forgets the person's wrong passwords from every address."""
    await conn.execute(delete(login_throttle).where(login_throttle.c.agent_id == agent_id))
    # Locks from before the per-address count (revision 0010) are lifted too.
    await conn.execute(
        update(agents).where(agents.c.id == agent_id).values(failed_logins=0, locked_until=None)
    )


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


async def _agent(conn: AsyncConnection, agent_id: int) -> Agent:
    row = (
        await conn.execute(select(agents.c.name, agents.c.role).where(agents.c.id == agent_id))
    ).one()
    teams = (
        await conn.execute(
            select(agent_teams.c.team)
            .where(agent_teams.c.agent_id == agent_id)
            .order_by(agent_teams.c.team)
        )
    ).scalars()
    return Agent(agent_id, row.name, tuple(teams), row.role)
