"""The admins' pages under ``/admin``: people and teams.

Plain forms with the session's CSRF token, rendered on the server, for admins only (an
agent or a supervisor gets 403). ``/admin/users`` lists everyone with a form for a new
person; ``/admin/users/{name}`` changes their teams and role, disables or enables them and
resets their password; ``/admin/teams`` shows each configured team with its members, to
add or take out. Every change is an audit event (``AccountAdmin``). A secret made here (a
new person's API token, a generated password) is shown once, on the answer to the post
itself: it is never put in a link or stored.

Teams and their display names come from config.toml: every process (the worker writing
acknowledgements, the bot, the web app) reads them there at start, so a name edited here
would show in some places and not in others. The pages say where to change one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.errors import Conflict, InboxError, NotFound
from inbox.pages.render import render
from inbox.store.account_admin import AccountAdmin, NewPerson, check_new_name
from inbox.store.accounts import MIN_PASSWORD_CHARS, ROLES, Session
from inbox.web.auth import WebAuth

log = logging.getLogger(__name__)
AUDIT_SHOWN = 30
DONE = {
    "teams": "Teams saved.",
    "role": "Role saved.",
    "disabled": "Disabled: their sessions ended and their token is refused.",
    "enabled": "Enabled: they can sign in again and their token works.",
    "password": "Password set. Their sessions ended.",
    "added": "Added to the team.",
    "removed": "Taken out of the team.",
}


def _no_store(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _user_link(name: str, done: str = "") -> str:
    return f"/admin/users/{quote(name, safe='')}" + (f"?done={done}" if done else "")


class AdminPages:
    """``/admin/users`` (list, new person), ``/admin/users/{name}``, ``/admin/teams``."""

    def __init__(
        self,
        engine: AsyncEngine,
        auth: WebAuth,
        teams: Sequence[tuple[str, str]],
        end_streams: Callable[[str], object] = lambda _name: None,
    ) -> None:
        self.admin = AccountAdmin(engine)
        # Ends a person's open live streams here when their sessions end (disabled, a new
        # password): the store refuses their next request, this the one already open.
        self.end_streams = end_streams
        self.auth = auth
        self.teams = list(teams)
        self.team_names = [name for name, _display in self.teams]

    def routes(self) -> list[web.AbstractRouteDef]:
        """The pages and their form posts, each for admins only (posts: with CSRF)."""
        only, one = partial(self.auth.page, admins_only=True), "/admin/users/{name}"
        return [
            web.get("/admin", only(self.home)),
            web.get("/admin/users", only(self.users)),
            web.post("/admin/users", only(self.create)),
            web.get(one, only(self.user)),
            web.post(one + "/teams", only(self.set_teams)),
            web.post(one + "/role", only(self.set_role)),
            web.post(one + "/{change:disable|enable}", only(self.switch)),
            web.post(one + "/password", only(self.reset_password)),
            web.get("/admin/teams", only(self.team_page)),
            web.post("/admin/teams/{team}", only(self.members)),
        ]

    def _context(self, session: Session, **extra: Any) -> dict[str, Any]:
        context = {
            "me": session.agent,
            "csrf": session.csrf,
            "teams": self.teams,
            "roles": ROLES,
            "min_password": MIN_PASSWORD_CHARS,
        }
        return {"error": "", "done": "", **context, **extra}

    async def home(self, request: web.Request, session: Session) -> web.Response:
        """``/admin`` is the list of people."""
        raise web.HTTPSeeOther("/admin/users")

    async def users(self, request: web.Request, session: Session) -> web.Response:
        """Everyone, the form for a new person, and the latest changes."""
        return _no_store(await self._users(session))

    async def _users(self, session: Session, status: int = 200, **extra: Any) -> web.Response:
        context = self._context(
            session,
            people=await self.admin.people(),
            audit=await self.admin.audit(AUDIT_SHOWN),
            **{"new": {"name": "", "role": "agent", "teams": []}, **extra},
        )
        return render("admin_users.html", context, status=status)

    async def create(self, request: web.Request, session: Session) -> web.Response:
        """Creates a person; the answer shows their token (and a generated password) once."""
        form = await request.post()
        name, role = str(form.get("name", "")).strip(), str(form.get("role", "agent"))
        teams = [str(t) for t in form.getall("team", [])]
        password = str(form.get("password", "")) or None
        new = {"name": name, "role": role, "teams": teams}
        try:
            check_new_name(name)
            self._check_teams(teams)
            made = await self.admin.create(session.agent.name, name, teams, role, password)
        except InboxError as err:
            status = 409 if isinstance(err, Conflict) else 422
            return _no_store(await self._users(session, status, error=str(err), new=new))
        log.info("%s created %s %s", session.agent.name, role, name)
        return _no_store(await self._user(session, name, made=made))

    async def user(self, request: web.Request, session: Session) -> web.Response:
        """One person: teams, role, disable or enable, a new password."""
        name = request.match_info["name"]
        done = DONE.get(request.query.get("done", ""), "")
        return _no_store(await self._user(session, name, done=done))

    async def _user(
        self,
        session: Session,
        name: str,
        status: int = 200,
        made: NewPerson | None = None,
        **extra: Any,
    ) -> web.Response:
        try:
            person = await self.admin.person(name)
        except NotFound as err:
            return _refused(404, str(err))
        context = self._context(
            session,
            person=person,
            made=made,
            audit=await self.admin.audit(AUDIT_SHOWN, target=name),
            **{"password": "", **extra},
        )
        return render("admin_user.html", context, status=status)

    async def set_teams(self, request: web.Request, session: Session) -> web.Response:
        """Puts the person in the checked teams."""
        name = request.match_info["name"]
        teams = [str(t) for t in (await request.post()).getall("team", [])]
        try:
            self._check_teams(teams)
            await self.admin.set_teams(session.agent.name, name, teams)
        except NotFound as err:
            return _refused(404, str(err))
        except InboxError as err:
            return _no_store(await self._user(session, name, 422, error=str(err)))
        log.info("%s set the teams of %s: %s", session.agent.name, name, ", ".join(teams))
        raise web.HTTPSeeOther(_user_link(name, "teams"))

    async def set_role(self, request: web.Request, session: Session) -> web.Response:
        """Gives the person a role (the last admin stays one)."""
        name = request.match_info["name"]
        role = str((await request.post()).get("role", ""))
        try:
            await self.admin.set_role(session.agent.name, name, role)
        except NotFound as err:
            return _refused(404, str(err))
        except Conflict as err:
            return _no_store(await self._user(session, name, 409, error=str(err)))
        except InboxError as err:
            return _no_store(await self._user(session, name, 422, error=str(err)))
        log.info("%s made %s %s", session.agent.name, name, role)
        raise web.HTTPSeeOther(_user_link(name, "role"))

    async def switch(self, request: web.Request, session: Session) -> web.Response:
        """Disables the person (not oneself, not the last admin) or enables them."""
        name, change = request.match_info["name"], request.match_info["change"]
        try:
            if change == "disable":
                await self.admin.disable(session.agent.name, name)
                self.end_streams(name)
            else:
                await self.admin.enable(session.agent.name, name)
        except NotFound as err:
            return _refused(404, str(err))
        except Conflict as err:
            return _no_store(await self._user(session, name, 409, error=str(err)))
        log.info("%s %sd %s", session.agent.name, change, name)
        raise web.HTTPSeeOther(_user_link(name, change + "d"))

    async def reset_password(self, request: web.Request, session: Session) -> web.Response:
        """Sets the typed password, or a generated one shown once on the answer."""
        name = request.match_info["name"]
        password = str((await request.post()).get("password", "")) or None
        try:
            generated = await self.admin.reset_password(session.agent.name, name, password)
            self.end_streams(name)
        except NotFound as err:
            return _refused(404, str(err))
        except InboxError as err:
            return _no_store(await self._user(session, name, 422, error=str(err)))
        log.info("%s reset the password of %s", session.agent.name, name)
        if generated is None:
            raise web.HTTPSeeOther(_user_link(name, "password"))
        return _no_store(await self._user(session, name, done=DONE["password"], password=generated))

    async def team_page(self, request: web.Request, session: Session) -> web.Response:
        """Each configured team, its display name and its members."""
        people = await self.admin.people()
        members = {team: [p for p in people if team in p.teams] for team, _display in self.teams}
        done = DONE.get(request.query.get("done", ""), "")
        context = self._context(session, people=people, members=members, done=done)
        return _no_store(render("admin_teams.html", context))

    async def members(self, request: web.Request, session: Session) -> web.Response:
        """Adds a person to the team, or takes one out."""
        team = request.match_info["team"]
        if team not in self.team_names:
            return _refused(404, f"no team {team!r} in config.toml")
        form = await request.post()
        name, action = str(form.get("name", "")), str(form.get("action", ""))
        try:
            if action == "add":
                await self.admin.add_member(session.agent.name, team, name)
            elif action == "remove":
                await self.admin.remove_member(session.agent.name, team, name)
            else:
                return _refused(422, "add or remove a member")
        except NotFound as err:
            return _refused(404, str(err))
        log.info("%s: %s %s in team %s", session.agent.name, action, name, team)
        done = "added" if action == "add" else "removed"
        raise web.HTTPSeeOther(f"/admin/teams?done={done}#team-{quote(team, safe='')}")

    def _check_teams(self, teams: list[str]) -> None:
        unknown = [t for t in teams if t not in self.team_names]
        if unknown:
            raise InboxError(f"no team {unknown[0]!r} in config.toml")


def _refused(status: int, message: str) -> web.Response:
    titles = {404: "Not found", 422: "Not done"}
    context = {
        "title": titles.get(status, "Not done"),
        "message": message,
        "back": "/admin/users",
        "back_text": "Back to the people",
    }
    return render("error.html", context, status=status)
