"""Writing the knowledge base from the web app: the checks and actions that the editor
pages (``kb_admin``) and the agent API share.

Who may do what: every signed-in person (agent, supervisor, admin) creates drafts and
edits articles — an edit is a new draft version, and a published article keeps answering
with its version in force until the edit is published. Publishing and retiring change what
customers are told, so they are for supervisors (articles of their own teams, or of no
team) and admins (any article).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from inbox.errors import ArticleError, InboxError, NotFound
from inbox.kb.articles import ARTICLE_ID, LANGUAGE, MAX_ARTICLE_BYTES, Article
from inbox.store.accounts import Agent
from inbox.store.desk_views import ConversationView
from inbox.store.kb import AnswerSource, KnowledgeBase, StoredArticle
from inbox.text import clean_text, single_line

MAX_TITLE_CHARS = 300
MAX_QUESTION_CHARS = 300
MAX_LIST_ITEMS = 50
SLUG_CHARS = 60  # leaves room for the "-2" a draft from an answer may need
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class NotAllowed(InboxError):
    """The person's role does not allow the action (an agent publishing, say)."""


@dataclass(frozen=True)
class ArticleFields:
    """What an editor typed, from the page's form or the API's JSON, not checked yet."""

    title: str
    body: str
    article_id: str = ""
    team: str = ""
    language: str = ""
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


def fields_from_form(form: Mapping[str, Any]) -> ArticleFields:
    """The editor form's fields: tags separated by commas, questions one per line."""

    def text(name: str) -> str:
        return str(form.get(name, ""))

    return ArticleFields(
        title=text("title"),
        body=text("body"),
        article_id=text("id"),
        team=text("team"),
        language=text("language"),
        tags=tuple(text("tags").split(",")),
        questions=tuple(text("questions").splitlines()),
    )


def fields_from_json(body: Mapping[str, Any]) -> ArticleFields:
    """The API's fields (``tags`` and ``questions`` as lists of strings)."""
    texts = {k: body.get(k) or "" for k in ("title", "body", "id", "team", "language")}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise ArticleError(f"'{name}' must be a string")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("tags", "questions"):
        value = body.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ArticleError(f"'{name}' must be a list of strings")
        lists[name] = tuple(value)
    return ArticleFields(
        title=texts["title"],
        body=texts["body"],
        article_id=texts["id"],
        team=texts["team"],
        language=texts["language"],
        tags=lists["tags"],
        questions=lists["questions"],
    )


def slug(text: str) -> str:
    """An article id made from a title: ``How do I pay?`` → ``how-do-i-pay``."""
    found = _NOT_SLUG.sub("-", text.lower())[:SLUG_CHARS].strip("-")
    return found or "article"


def article_json(stored: StoredArticle) -> dict[str, Any]:
    """One stored version of an article, for the agent API."""
    a = stored.article
    return {
        "id": a.id,
        "title": a.title,
        "body": a.body,
        "team": a.team,
        "language": a.language,
        "tags": list(a.tags),
        "questions": list(a.questions),
        "version": stored.version,
        "latest_version": stored.latest_version,
        "state": stored.state,
        "created_by": stored.created_by,
        "updated_at": stored.updated_at,
    }


def may_publish(agent: Agent, *versions: StoredArticle) -> bool:
    """True when ``agent`` may publish or retire an article with these versions."""
    if agent.role == "admin":
        return True
    teams = {v.article.team for v in versions} - {None}
    return agent.supervises and teams <= set(agent.teams)


def _items(values: tuple[str, ...], name: str, limit: int) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(found for v in values if (found := single_line(v))))
    if len(items) > MAX_LIST_ITEMS:
        raise ArticleError(f"at most {MAX_LIST_ITEMS} {name}")
    if any(len(item) > limit for item in items):
        raise ArticleError(f"each of the {name} has at most {limit} characters")
    return items


def article_from(fields: ArticleFields, teams: Collection[str], article_id: str = "") -> Article:
    """The article the fields describe, under ``article_id`` when editing one; ``teams``:
    the teams it may be for. ArticleError names what is wrong."""
    title = single_line(fields.title)
    body = clean_text(fields.body)
    if not title or len(title) > MAX_TITLE_CHARS:
        raise ArticleError(f"the title is required, at most {MAX_TITLE_CHARS} characters")
    if not body or len(body.encode()) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"the body is required, at most {MAX_ARTICLE_BYTES} bytes")
    chosen = article_id or single_line(fields.article_id) or slug(title)
    if not ARTICLE_ID.match(chosen):
        raise ArticleError(f"id '{chosen}' must be lower-case letters, digits, '-' or '_'")
    team = single_line(fields.team)
    if team and team not in teams:
        raise ArticleError(f"there is no team '{team}'")
    language = single_line(fields.language) or "en"
    if not LANGUAGE.match(language):
        raise ArticleError(f"language '{language}' must be a two-letter code")
    return Article(
        id=chosen,
        title=title,
        body=body,
        team=team or None,
        language=language,
        tags=_items(fields.tags, "tags", 60),
        questions=_items(fields.questions, "questions", MAX_QUESTION_CHARS),
    )


class KbEditing:
    """The knowledge base's writes on behalf of a signed-in person."""

    def __init__(self, kb: KnowledgeBase, teams: Collection[str]) -> None:
        self.kb = kb
        self.teams = frozenset(teams)

    def article_of(self, fields: ArticleFields, article_id: str = "") -> Article:
        """The article the fields describe (see ``article_from``)."""
        return article_from(fields, self.teams, article_id)

    async def listing(self) -> list[StoredArticle]:
        """Every article in any state, with its version in force."""
        return await self.kb.listing()

    async def versions(self, article_id: str) -> tuple[StoredArticle, StoredArticle]:
        """The article's version in force and its newest (the same when no edit waits)."""
        current = await self.kb.article(article_id) if ARTICLE_ID.match(article_id) else None
        if current is None:
            raise NotFound(f"no article {article_id}")
        newest = await self.kb.article(article_id, current.latest_version)
        assert newest is not None
        return current, newest

    async def create(self, agent: Agent, fields: ArticleFields) -> StoredArticle:
        """A new article, as a draft."""
        return await self.kb.create_draft(self.article_of(fields), agent.name)

    async def edit(self, agent: Agent, article_id: str, fields: ArticleFields) -> StoredArticle:
        """A new draft version of an existing article."""
        await self.versions(article_id)
        return await self.kb.save_draft(self.article_of(fields, article_id), agent.name)

    async def publish(self, agent: Agent, article_id: str) -> StoredArticle:
        """Puts the article's newest version in force (supervisors and admins)."""
        await self._check_may_publish(agent, article_id)
        return await self.kb.publish(article_id)

    async def retire(self, agent: Agent, article_id: str) -> None:
        """Takes the article out of use (supervisors and admins)."""
        await self._check_may_publish(agent, article_id)
        await self.kb.retire(article_id)

    async def _check_may_publish(self, agent: Agent, article_id: str) -> None:
        if not may_publish(agent, *await self.versions(article_id)):
            raise NotAllowed(
                "only supervisors (of the article's team) and admins publish or retire articles"
            )

    async def from_answer(
        self, agent: Agent, view: ConversationView, message_id: int
    ) -> StoredArticle:
        """A draft whose body is an agent's answer and whose question is the customer's
        message before it."""
        answer = next((m for m in view.messages if m.message_id == message_id), None)
        if answer is None or (answer.direction, answer.author, answer.internal) != (
            "out",
            "agent",
            False,
        ):
            raise ArticleError(f"message {message_id} is not an agent's answer in this ticket")
        asked = [
            m
            for m in view.messages
            if m.direction == "in" and not m.internal and m.message_id < message_id
        ]
        if not asked:
            raise ArticleError("no customer message comes before this answer")
        question = single_line(asked[-1].text)[:MAX_QUESTION_CHARS]
        team = view.summary.team if view.summary.team in self.teams else ""
        fields = ArticleFields(
            title=question[:120], body=answer.text, team=team, questions=(question,)
        )
        source = AnswerSource(view.summary.reference, message_id)
        return await self.kb.draft_from_answer(self.article_of(fields), agent.name, source)
