"""The knowledge base in the store: articles, every version of their text, and their state.

An article is a ``draft`` (answers nobody), ``published`` or ``retired``. Its
``current_version`` is the version in force; an agent's edit of a published article is
kept as a newer version and takes over only when published, so the article keeps
answering meanwhile.

Importing files (``import_articles``) is idempotent: an article whose content hash is the
current version's writes nothing; an edited one becomes a new version, published (files
are written by the people who publish them); a new one is created published. An article
retired in the web app stays retired while its file is unchanged.

Every write takes the ``kb`` lock: several processes importing the same folder at start
run one after the other, and all but the first find nothing to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.errors import Conflict, NotFound
from inbox.kb.articles import Article, read_folder
from inbox.store.engine import now
from inbox.store.locks import serialize
from inbox.store.tables import conversations, kb_article_versions, kb_articles
from inbox.store.writes import record_event

ArticleState = Literal["draft", "published", "retired"]
IMPORTED_BY = "import"
_LOCK = "kb"


@dataclass(frozen=True)
class StoredArticle:
    """One version of an article as stored, with where the article stands."""

    article: Article
    version: int
    state: ArticleState
    latest_version: int  # above ``version`` when an edit waits to be published
    created_by: str  # who wrote this version: "import" or an agent's name
    updated_at: float

    @property
    def id(self) -> str:
        """The article's id."""
        return self.article.id


@dataclass(frozen=True)
class AnswerSource:
    """The agent's answer a draft article was made from: its conversation and message."""

    reference: int
    message_id: int


@dataclass(frozen=True)
class ImportSummary:
    """What an import did, by article id."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def total(self) -> int:
        """How many articles the import was given."""
        return len(self.created) + len(self.updated) + len(self.unchanged)


class KnowledgeBase:
    """The store's knowledge base."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def import_articles(
        self, articles: Iterable[Article], by: str = IMPORTED_BY
    ) -> ImportSummary:
        """Stores ``articles`` (read from files), published, in one transaction."""
        created: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            for article in articles:
                row = await _article_row(conn, article.id)
                if row is None:
                    await _create(conn, article, by, "published")
                    created.append(article.id)
                elif await _current_hash(conn, row) == article.content_hash:
                    unchanged.append(article.id)
                else:
                    await _add_version(conn, article, by, state="published", current=True)
                    updated.append(article.id)
        return ImportSummary(tuple(created), tuple(updated), tuple(unchanged))

    async def import_folder(self, folder: Path, by: str = IMPORTED_BY) -> ImportSummary:
        """Imports every article in ``folder``; all or nothing: one bad file (ArticleError,
        naming it) and nothing is imported, the articles stored before stay as they were."""
        articles = await asyncio.to_thread(read_folder, folder)
        return await self.import_articles(articles, by)

    async def published(self) -> list[StoredArticle]:
        """The version in force of every published article, by id: what the bot answers from."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                _stored_select()
                .where(
                    kb_articles.c.state == "published",
                    kb_article_versions.c.version == kb_articles.c.current_version,
                )
                .order_by(kb_articles.c.id)
            )
            return [_stored(r) for r in rows]

    async def listing(self) -> list[StoredArticle]:
        """Every article in any state, by id, with its version in force: the editors' list."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                _stored_select()
                .where(kb_article_versions.c.version == kb_articles.c.current_version)
                .order_by(kb_articles.c.id)
            )
            return [_stored(r) for r in rows]

    async def article(self, article_id: str, version: int | None = None) -> StoredArticle | None:
        """The article's version in force (or its ``version``), whatever its state."""
        async with self.engine.connect() as conn:
            wanted = kb_articles.c.current_version if version is None else version
            row = (
                await conn.execute(
                    _stored_select().where(
                        kb_articles.c.id == article_id, kb_article_versions.c.version == wanted
                    )
                )
            ).first()
        return None if row is None else _stored(row)

    async def save_draft(self, article: Article, by: str) -> StoredArticle:
        """Saves an agent's text as a new version: a new article is a draft; the edit of a
        published one waits, newer than the version in force, until it is published."""
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            row = await _article_row(conn, article.id)
            if row is None:
                version = await _create(conn, article, by, "draft")
            elif row.state == "published":
                version = await _add_version(conn, article, by, state="published", current=False)
            else:
                version = await _add_version(conn, article, by, state="draft", current=True)
        stored = await self.article(article.id, version)
        assert stored is not None
        return stored

    async def create_draft(self, article: Article, by: str) -> StoredArticle:
        """A new article, as a draft; Conflict when its id is taken (an edit is a
        ``save_draft`` of the existing one, never a new article landing on it)."""
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            if await _article_row(conn, article.id) is not None:
                raise Conflict(f"an article {article.id} exists already: edit it instead")
            await _create(conn, article, by, "draft")
        stored = await self.article(article.id, 1)
        assert stored is not None
        return stored

    async def draft_from_answer(
        self, article: Article, by: str, source: AnswerSource
    ) -> StoredArticle:
        """A new draft made from an agent's answer, under the article's id or the first
        free ``id-2``, ``id-3``…; the conversation's audit trail records it."""
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            conversation_id = await conn.scalar(
                select(conversations.c.id).where(conversations.c.reference == source.reference)
            )
            if conversation_id is None:
                raise NotFound(f"no conversation #{source.reference}")
            article = replace(article, id=await _free_id(conn, article.id))
            await _create(conn, article, by, "draft")
            data = {"article": article.id, "version": 1, "message": source.message_id}
            await record_event(conn, conversation_id, "kb_draft", by, data)
        stored = await self.article(article.id, 1)
        assert stored is not None
        return stored

    async def publish(self, article_id: str) -> StoredArticle:
        """Puts the article's newest version in force and publishes it."""
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            await _existing(conn, article_id)
            newest = await _latest_version(conn, article_id)
            await _set(conn, article_id, state="published", current_version=newest)
        stored = await self.article(article_id)
        assert stored is not None
        return stored

    async def retire(self, article_id: str) -> None:
        """Takes the article out of use (its versions are kept: answers quoted them)."""
        async with self.engine.begin() as conn:
            await serialize(conn, _LOCK)
            row = await _existing(conn, article_id)
            if row.state == "retired":
                raise Conflict(f"article {article_id} is already retired")
            await _set(conn, article_id, state="retired")


def _stored_select() -> Select[Any]:
    v, other = kb_article_versions, kb_article_versions.alias("other")
    latest = (
        select(func.max(other.c.version))
        .where(other.c.article_id == kb_articles.c.id)
        .correlate(kb_articles)
        .scalar_subquery()
    )
    return select(
        kb_articles.c.id,
        kb_articles.c.state,
        kb_articles.c.updated_at,
        latest.label("latest_version"),
        v.c.version,
        v.c.title,
        v.c.body,
        v.c.team,
        v.c.language,
        v.c.tags,
        v.c.questions,
        v.c.created_by,
    ).join_from(kb_articles, v)


def _stored(row: Row[Any]) -> StoredArticle:
    article = Article(
        id=row.id,
        title=row.title,
        body=row.body,
        team=row.team,
        language=row.language,
        tags=tuple(row.tags),
        questions=tuple(row.questions),
    )
    return StoredArticle(
        article=article,
        version=row.version,
        state=row.state,
        latest_version=row.latest_version,
        created_by=row.created_by,
        updated_at=row.updated_at,
    )


async def _article_row(conn: AsyncConnection, article_id: str) -> Row[Any] | None:
    found = await conn.execute(select(kb_articles).where(kb_articles.c.id == article_id))
    return found.first()


async def _existing(conn: AsyncConnection, article_id: str) -> Row[Any]:
    row = await _article_row(conn, article_id)
    if row is None:
        raise NotFound(f"no article {article_id}")
    return row


async def _free_id(conn: AsyncConnection, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``… whichever no article has yet (``wanted``
    leaves room for the suffix: at most 70 characters)."""
    taken = set(
        await conn.scalars(
            select(kb_articles.c.id).where(
                (kb_articles.c.id == wanted)
                | kb_articles.c.id.startswith(f"{wanted}-", autoescape=True)
            )
        )
    )
    found, number = wanted, 1
    while found in taken:
        number += 1
        found = f"{wanted}-{number}"
    return found


async def _current_hash(conn: AsyncConnection, row: Row[Any]) -> str | None:
    return await conn.scalar(
        select(kb_article_versions.c.content_hash).where(
            kb_article_versions.c.article_id == row.id,
            kb_article_versions.c.version == row.current_version,
        )
    )


async def _latest_version(conn: AsyncConnection, article_id: str) -> int:
    found = await conn.scalar(
        select(func.max(kb_article_versions.c.version)).where(
            kb_article_versions.c.article_id == article_id
        )
    )
    return int(found or 0)


async def _create(conn: AsyncConnection, article: Article, by: str, state: ArticleState) -> int:
    stamp = now()
    await conn.execute(
        insert(kb_articles).values(
            id=article.id,
            state=state,
            current_version=1,
            created_at=stamp,
            updated_at=stamp,
            **_filtered_by(article),
        )
    )
    await _insert_version(conn, article, 1, by)
    return 1


def _filtered_by(article: Article) -> dict[str, Any]:
    """The columns the article row copies from its version in force."""
    return {"team": article.team, "language": article.language, "tags": list(article.tags)}


async def _add_version(
    conn: AsyncConnection, article: Article, by: str, *, state: ArticleState, current: bool
) -> int:
    """A new version of an existing article; ``current``: it is put in force."""
    version = await _latest_version(conn, article.id) + 1
    await _insert_version(conn, article, version, by)
    if current:
        await _set(conn, article.id, state=state, current_version=version, **_filtered_by(article))
    return version


async def _insert_version(conn: AsyncConnection, article: Article, version: int, by: str) -> None:
    await conn.execute(
        insert(kb_article_versions).values(
            article_id=article.id,
            version=version,
            title=article.title,
            body=article.body,
            questions=list(article.questions),
            content_hash=article.content_hash,
            **_filtered_by(article),
            created_at=now(),
            created_by=by,
        )
    )


async def _set(conn: AsyncConnection, article_id: str, **values: Any) -> None:
    await conn.execute(
        update(kb_articles).where(kb_articles.c.id == article_id).values(updated_at=now(), **values)
    )


def summary_line(summary: ImportSummary) -> str:
    """``kb: 12 articles: 3 new, 1 updated, 8 unchanged``: what an import did, in a line."""
    noun = "article" if summary.total == 1 else "articles"
    return (
        f"kb: {summary.total} {noun}: {len(summary.created)} new, "
        f"{len(summary.updated)} updated, {len(summary.unchanged)} unchanged"
    )
