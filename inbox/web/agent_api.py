"""The agent API: JSON over HTTP, one bearer token per agent.

Another team's conversation answers 404 exactly like a missing one, so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from aiohttp import web

from inbox import safe_json
from inbox.config.settings import CannedReply, DeskSettings
from inbox.errors import ArticleError, Conflict, NotFound
from inbox.models import Attachment, Status
from inbox.store.accounts import Accounts, Agent
from inbox.store.desk import Desk
from inbox.store.desk_answers import Held
from inbox.store.incident_rows import visible_incidents
from inbox.store.kb import KnowledgeBase
from inbox.text import clean_text, single_line
from inbox.web.auth import SAFE_METHODS, WebAuth
from inbox.web.desk import fill_canned
from inbox.web.kb_editing import KbEditing, NotAllowed, article_json, fields_from_json
from inbox.web.reply_form import UploadRefused, read_reply_form

AGENT = web.AppKey("agent", Agent)
MAX_REPLY_CHARS = 50_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_error(status: int, message: str) -> web.Response:
    """A JSON error with a clear message."""
    return web.json_response({"error": message}, status=status)


class AgentApi:
    """Routes under ``/api/conversations`` and ``/api/me``."""

    def __init__(
        self,
        accounts: Accounts,
        desk: Desk,
        *,
        on_reply: Callable[[], None],
        web_auth: WebAuth | None = None,
        teams: Sequence[tuple[str, str]] = (),
        canned: Sequence[CannedReply] = (),
        on_change: Callable[[int], None] | None = None,
        limits: DeskSettings | None = None,
    ) -> None:
        self.web_auth = web_auth
        self.limits = limits or DeskSettings()
        self.teams = list(teams)
        self.canned = list(canned)
        self.on_change = on_change
        self.accounts = accounts
        self.desk = desk
        self.on_reply = on_reply
        self.articles = KbEditing(KnowledgeBase(desk.engine), [name for name, _ in self.teams])

    def routes(self) -> list[web.AbstractRouteDef]:
        """The API's routes, each behind the bearer-token check."""
        guard = self._authenticated
        return [
            web.get("/api", self.index),
            web.get("/api/me", guard(self.me)),
            web.get("/api/conversations", guard(self.list)),
            web.post("/api/conversations/next", guard(self.claim_next)),
            web.get("/api/conversations/{ref:\\d+}", guard(self.view)),
            web.get("/api/conversations/{ref:\\d+}/attachments/{file:\\d+}", guard(self.download)),
            web.post("/api/conversations/{ref:\\d+}/reply", guard(self.reply)),
            web.post("/api/conversations/{ref:\\d+}/notes", guard(self.note)),
            web.post("/api/conversations/{ref:\\d+}/reassign", guard(self.reassign)),
            web.post("/api/conversations/{ref:\\d+}/resolve", guard(self.resolve)),
            web.post("/api/conversations/{ref:\\d+}/merge", guard(self.merge)),
            web.post("/api/conversations/{ref:\\d+}/confirm", guard(self.confirm)),
            web.get("/api/incidents", guard(self.incidents)),
            web.get("/api/teams", guard(self.team_list)),
            web.get("/api/agents", guard(self.teammates)),
            web.post("/api/conversations/{ref:\\d+}/assign", guard(self.assign)),
            web.get("/api/conversations/{ref:\\d+}/canned", guard(self.canned_replies)),
            web.post("/api/conversations/{ref:\\d+}/kb-draft", guard(self.kb_from_answer)),
            web.post("/api/conversations/{ref:\\d+}/retry", guard(self.retry_delivery)),
            web.post("/api/conversations/{ref:\\d+}/automatic", guard(self.automatic)),
            web.post("/api/conversations/{ref:\\d+}/customer", guard(self.edit_customer)),
            web.get("/api/kb", guard(self.kb_list)),
            web.post("/api/kb", guard(self.kb_create)),
            web.get("/api/kb/{article_id}", guard(self.kb_article)),
            web.post("/api/kb/{article_id}", guard(self.kb_edit)),
            web.post("/api/kb/{article_id}/publish", guard(self.kb_publish)),
            web.post("/api/kb/{article_id}/retire", guard(self.kb_retire)),
        ]

    def guard(self, handler: Callable[[web.Request, Agent], Awaitable[web.Response]]) -> Handler:
        """``handler`` behind the API's check (a token, or a session with CSRF on writes),
        for routes of other modules (search)."""
        return self._authenticated(handler)

    def _authenticated(
        self, handler: Callable[[web.Request, Agent], Awaitable[web.Response]]
    ) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            agent_or_error = await self._caller(request)
            if isinstance(agent_or_error, web.Response):
                return agent_or_error
            agent = agent_or_error
            try:
                response = await handler(request, agent)
            except Held as err:
                return web.json_response({"error": str(err), "held": True}, status=409)
            except NotFound as err:
                return api_error(404, str(err))
            except Conflict as err:
                return api_error(409, str(err))
            except (_BadRequest, ArticleError) as err:
                return api_error(422, str(err))
            except UploadRefused as err:
                return api_error(err.status, str(err))
            except NotAllowed as err:
                return api_error(403, str(err))
            reference = request.match_info.get("ref")
            if request.method == "POST" and reference and self.on_change is not None:
                self.on_change(int(reference))  # live pages learn of it
            return response

        return wrapped

    async def _caller(self, request: web.Request) -> Agent | web.Response:
        """The bearer token's owner, or the signed-in browser's (whose writes must carry
        the session's CSRF token); otherwise the error to answer with."""
        header = request.headers.get("Authorization", "")
        if not header and self.web_auth is not None:
            session = await self.web_auth.session(request)
            if session is not None:
                if request.method in SAFE_METHODS or self.web_auth.csrf_ok(request, session):
                    return session.agent
                return api_error(403, "send the page's CSRF token as X-CSRF-Token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return api_error(
                401, "sign in, or send your API token as 'Authorization: Bearer TOKEN'"
            )
        agent = await self.accounts.by_token(token.strip())
        if agent is None:
            return api_error(401, "unknown agent token")
        return agent

    async def index(self, request: web.Request) -> web.Response:
        """What the API offers, for a person exploring it."""
        return web.json_response(
            {
                "authentication": "Authorization: Bearer <token from `inbox user add`>, or a "
                "signed-in browser session with an X-CSRF-Token header on writes",
                "endpoints": {
                    "GET /api/me": "who the token belongs to",
                    "GET /api/conversations?team=&status=": "conversations in my teams",
                    "GET /api/conversations/{ref}": "messages, routing evidence, audit trail",
                    "GET /api/search?q=&status=&team=&assignee=&channel=&priority=&sla=&from=&to="
                    "&offset=&limit=": "conversations in my teams by words of any message "
                    "(notes too), ticket number, address or name; best match first",
                    "POST /api/conversations/next": "claim the next conversation",
                    "POST /api/conversations/{ref}/reply": '{"text": ..., "seen": id, '
                    '"channel": name, "address": ...} (held with 409 when messages arrived '
                    "after `seen`; by default where the customer wrote last; `channel` and "
                    "`address`: another of the customer's identities); or the same fields as "
                    "multipart/form-data with files attached as `files` (413 over the size or "
                    "count limit, nothing sent)",
                    "POST /api/conversations/{ref}/notes": '{"text": ...} internal note',
                    "POST /api/conversations/{ref}/reassign": '{"team": ...}',
                    "POST /api/conversations/{ref}/resolve": "resolve",
                    "POST /api/conversations/{ref}/automatic": '{"on": bool} automatic '
                    "messages to the customer, as they asked",
                    "POST /api/conversations/{ref}/customer": '{"name": ..., "notes": ...} '
                    "the customer's name and notes",
                    "POST /api/conversations/{ref}/merge": '{"into": ref} same issue: merge',
                    "POST /api/conversations/{ref}/confirm": "the team is right: learn from it",
                    "GET /api/incidents": "open incidents touching my teams",
                    "GET /api/teams": "every team (for reassigning)",
                    "GET /api/agents": "people who share a team with me",
                    "POST /api/conversations/{ref}/assign": '{"agent": name or null}',
                    "GET /api/conversations/{ref}/canned": "canned replies, filled in",
                    "POST /api/conversations/{ref}/kb-draft": '{"message": id} a draft '
                    "article from an agent's answer and the customer's question before it",
                    "POST /api/conversations/{ref}/retry": '{"message": id} send an answer '
                    "whose delivery failed again (409 unless it failed)",
                    "GET /api/kb": "every article, any state, with its version in force",
                    "GET /api/kb/{id}": "an article's version in force and a waiting draft",
                    "POST /api/kb": '{"title", "body", "id", "team", "language", "tags": [], '
                    '"questions": []} a new draft article',
                    "POST /api/kb/{id}": "the same fields: an edit, as a new draft version",
                    "POST /api/kb/{id}/publish": "publish the newest version (supervisors)",
                    "POST /api/kb/{id}/retire": "retire the article (supervisors)",
                    "POST /api/messages": "a customer message (the web form's JSON twin)",
                },
            }
        )

    async def me(self, request: web.Request, agent: Agent) -> web.Response:
        """Who the token belongs to."""
        return web.json_response(
            {"name": agent.name, "teams": list(agent.teams), "role": agent.role}
        )

    async def list(self, request: web.Request, agent: Agent) -> web.Response:
        """``?team=&status=&limit=``: conversations in my teams."""
        status = request.query.get("status")
        if status is not None and status not in {s.value for s in Status}:
            raise _BadRequest(f"status must be one of {', '.join(s.value for s in Status)}")
        team = request.query.get("team")
        try:
            limit = max(1, min(500, int(request.query.get("limit", "100"))))
        except ValueError as err:
            raise _BadRequest("limit must be a number") from err
        rows = await self.desk.list(agent, team=team, status=status, limit=limit)
        return web.json_response({"conversations": [r.to_json() for r in rows]})

    async def view(self, request: web.Request, agent: Agent) -> web.Response:
        """One conversation: messages, routing evidence, audit trail."""
        found = await self.desk.view(agent, int(request.match_info["ref"]))
        return web.json_response(found.to_json())

    async def download(self, request: web.Request, agent: Agent) -> web.Response:
        """A message's file, only ever as a download: never rendered by the browser."""
        found = await self.desk.attachment(
            agent, int(request.match_info["ref"]), int(request.match_info["file"])
        )
        return web.Response(
            body=found.data,
            content_type="application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def claim_next(self, request: web.Request, agent: Agent) -> web.Response:
        """Takes the next conversation (highest priority, oldest first); 204 if none."""
        taken = await self.desk.claim_next(agent)
        if taken is None:
            return web.Response(status=204)
        return web.json_response(taken.to_json())

    async def reply(self, request: web.Request, agent: Agent) -> web.Response:
        """Answers the customer on their channel: JSON, or a form with files attached."""
        files: tuple[Attachment, ...] = ()
        if request.content_type == "multipart/form-data":
            form = await read_reply_form(request, self.limits)
            body, files = form.fields, form.files
        else:
            body = await _json_object(request)
        text = _checked_text(body.get("text"), "text")
        seen, via, to = body.get("seen"), body.get("channel"), body.get("address")
        if seen is not None and (isinstance(seen, bool) or not isinstance(seen, int)):
            raise _BadRequest("'seen' must be a message id")
        if via is not None and not isinstance(via, str):
            raise _BadRequest("'channel' must be a channel name")
        if to is not None and (via is None or not isinstance(to, str)):
            raise _BadRequest("'address' must be an address on the chosen 'channel'")
        message_id = await self.desk.reply(
            agent, int(request.match_info["ref"]), text, seen=seen, via=via, to=to, files=files
        )
        self.on_reply()
        return web.json_response(
            {"message_id": message_id, "delivery": "pending", "files": len(files)}, status=202
        )

    async def note(self, request: web.Request, agent: Agent) -> web.Response:
        """Adds an internal note."""
        text = await _text_field(request, "text")
        message_id = await self.desk.note(agent, int(request.match_info["ref"]), text)
        return web.json_response({"message_id": message_id}, status=201)

    @property
    def _learns_at_once(self) -> bool:
        """Whether a correction teaches the router now (else it waits for a review)."""
        return self.desk.corrections == "immediate"

    async def reassign(self, request: web.Request, agent: Agent) -> web.Response:
        """Moves the conversation to another team; the stored correction routes the next
        message (every worker reads new corrections before its next batch)."""
        team = await _text_field(request, "team")
        await self.desk.reassign(agent, int(request.match_info["ref"]), team)
        return web.json_response({"team": team, "learned": self._learns_at_once})

    async def confirm(self, request: web.Request, agent: Agent) -> web.Response:
        """Confirms the routing; the first message becomes an example for this team."""
        team, _example = await self.desk.confirm(agent, int(request.match_info["ref"]))
        return web.json_response({"team": team, "learned": self._learns_at_once})

    async def resolve(self, request: web.Request, agent: Agent) -> web.Response:
        """Resolves the conversation."""
        await self.desk.resolve(agent, int(request.match_info["ref"]))
        self.on_reply()  # the rating request is in the outbox
        return web.json_response({"status": Status.RESOLVED.value})

    async def merge(self, request: web.Request, agent: Agent) -> web.Response:
        """Confirms a possible duplicate: this conversation joins ``into``."""
        into = (await _json_object(request)).get("into")
        if isinstance(into, bool) or not isinstance(into, int):
            raise _BadRequest("'into' must be a ticket number")
        reference = await self.desk.merge(agent, int(request.match_info["ref"]), into)
        return web.json_response({"merged_into": reference})

    async def retry_delivery(self, request: web.Request, agent: Agent) -> web.Response:
        """Tries again an answer whose delivery failed: pending now, sent by the outbox."""
        message = (await _json_object(request)).get("message")
        if isinstance(message, bool) or not isinstance(message, int):
            raise _BadRequest("'message' must be a message id")
        await self.desk.retry_delivery(agent, int(request.match_info["ref"]), message)
        self.on_reply()  # wakes the sender
        return web.json_response({"message_id": message, "delivery": "pending"}, status=202)

    async def automatic(self, request: web.Request, agent: Agent) -> web.Response:
        """Turns automatic messages to the customer on or off as they asked (``{"on": b}``)."""
        on = (await _json_object(request)).get("on")
        if not isinstance(on, bool):
            raise _BadRequest("'on' must be true or false")
        await self.desk.set_automatic(agent, int(request.match_info["ref"]), on=on)
        return web.json_response({"automatic": on})

    async def edit_customer(self, request: web.Request, agent: Agent) -> web.Response:
        """Sets the customer's name and notes (``{"name": ..., "notes": ...}``)."""
        body = await _json_object(request)
        name, notes = body.get("name", ""), body.get("notes", "")
        if not isinstance(name, str) or not isinstance(notes, str):
            raise _BadRequest("'name' and 'notes' must be text")
        reference = int(request.match_info["ref"])
        await self.desk.edit_customer(agent, reference, single_line(name), notes.strip())
        return web.json_response({"name": single_line(name), "notes": notes.strip()})

    async def teammates(self, request: web.Request, agent: Agent) -> web.Response:
        """The people who share a team with me (for assigning)."""
        return web.json_response({"agents": await self.desk.teammates(agent)})

    async def assign(self, request: web.Request, agent: Agent) -> web.Response:
        """Gives the conversation to a member of its team; ``{"agent": null}`` to nobody."""
        body = await _json_object(request)
        name = body.get("agent")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise _BadRequest("'agent' must be a name or null")
        assignee = await self.desk.assign(agent, int(request.match_info["ref"]), name)
        return web.json_response({"assignee": assignee})

    async def team_list(self, request: web.Request, agent: Agent) -> web.Response:
        """Every team, for reassigning (names and display names are not secret)."""
        return web.json_response({"teams": [{"name": n, "display_name": d} for n, d in self.teams]})

    async def canned_replies(self, request: web.Request, agent: Agent) -> web.Response:
        """The canned replies, filled in for this conversation and this agent."""
        found = await self.desk.view(agent, int(request.match_info["ref"]))
        return web.json_response(
            {"canned": fill_canned(self.canned, found, agent, dict(self.teams))}
        )

    async def incidents(self, request: web.Request, agent: Agent) -> web.Response:
        """Open incidents with members in my teams (only those members are listed)."""
        found = await visible_incidents(self.desk.engine, agent)
        return web.json_response({"incidents": found})

    async def kb_list(self, request: web.Request, agent: Agent) -> web.Response:
        """Every article in any state, with its version in force."""
        found = await self.articles.listing()
        return web.json_response({"articles": [article_json(a) for a in found]})

    async def kb_article(self, request: web.Request, agent: Agent) -> web.Response:
        """An article's version in force, and its newer draft if one waits."""
        current, newest = await self.articles.versions(request.match_info["article_id"])
        draft = article_json(newest) if newest.version > current.version else None
        return web.json_response({"article": article_json(current), "draft": draft})

    async def kb_create(self, request: web.Request, agent: Agent) -> web.Response:
        """A new article, as a draft (409 when the id is taken)."""
        fields = fields_from_json(await _json_object(request))
        stored = await self.articles.create(agent, fields)
        return web.json_response(article_json(stored), status=201)

    async def kb_edit(self, request: web.Request, agent: Agent) -> web.Response:
        """An edit of an article: a new draft version; the version in force stays."""
        fields = fields_from_json(await _json_object(request))
        stored = await self.articles.edit(agent, request.match_info["article_id"], fields)
        return web.json_response(article_json(stored), status=201)

    async def kb_publish(self, request: web.Request, agent: Agent) -> web.Response:
        """Publishes the article's newest version (supervisors and admins; others 403)."""
        stored = await self.articles.publish(agent, request.match_info["article_id"])
        return web.json_response(article_json(stored))

    async def kb_retire(self, request: web.Request, agent: Agent) -> web.Response:
        """Retires the article (supervisors and admins; others 403)."""
        await self.articles.retire(agent, request.match_info["article_id"])
        return web.json_response({"state": "retired"})

    async def kb_from_answer(self, request: web.Request, agent: Agent) -> web.Response:
        """A draft article from an agent's answer in this conversation."""
        found = await self.desk.view(agent, int(request.match_info["ref"]))  # 404 first
        message = (await _json_object(request)).get("message")
        if isinstance(message, bool) or not isinstance(message, int):
            raise _BadRequest("'message' must be a message id")
        stored = await self.articles.from_answer(agent, found, message)
        return web.json_response(article_json(stored), status=201)


class _BadRequest(Exception):
    """The request body or query is not what the endpoint takes."""


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        raw: Any = safe_json.loads(await request.text())
    except (UnicodeDecodeError, ValueError) as err:
        raise _BadRequest("the body must be a UTF-8 JSON object") from err
    if not isinstance(raw, dict):
        raise _BadRequest("the body must be a UTF-8 JSON object")
    return raw


async def _text_field(request: web.Request, field: str) -> str:
    return _checked_text((await _json_object(request)).get(field), field)


def _checked_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not clean_text(value):
        raise _BadRequest(f"'{field}' must be a non-empty string")
    value = clean_text(value)
    if len(value) > MAX_REPLY_CHARS:
        raise _BadRequest(f"'{field}' is too long: at most {MAX_REPLY_CHARS} characters")
    return value
