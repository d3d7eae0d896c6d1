"""The knowledge base in the store: an idempotent import, versions, drafts and retiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import Settings
from inbox.errors import Conflict, NotFound
from inbox.kb.articles import Article
from inbox.store.kb import ImportSummary, KnowledgeBase
from tests.support.store import store_of
from tests.support.tickets import migrated_engine

pytestmark = pytest.mark.both_backends

HOURS = Article(
    id="opening-hours",
    title="Opening hours",
    body="We answer Monday to Friday, 8:00 to 18:00.",
    team="general",
    tags=("hours",),
    questions=("When are you open?",),
)
PASSWORD = Article(id="reset-password", title="Resetting a password", body="Use 'Forgot password'.")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(settings)
    yield engine
    await engine.dispose()


async def test_an_import_twice_writes_once(engine: AsyncEngine, settings: Settings) -> None:
    kb = KnowledgeBase(engine)
    first = await kb.import_articles([HOURS, PASSWORD])
    assert first == ImportSummary(("opening-hours", "reset-password"), (), ())
    again = await kb.import_articles([HOURS, PASSWORD])
    assert again == ImportSummary((), (), ("opening-hours", "reset-password"))
    store = store_of(settings)
    assert store.count("SELECT count(*) FROM kb_article_versions") == 2
    published = await kb.published()
    assert [(a.id, a.version, a.state) for a in published] == [
        ("opening-hours", 1, "published"),
        ("reset-password", 1, "published"),
    ]
    assert published[0].article == HOURS
    assert published[0].created_by == "import"


async def test_an_edited_article_becomes_version_2(engine: AsyncEngine) -> None:
    kb = KnowledgeBase(engine)
    await kb.import_articles([HOURS])
    edited = replace(HOURS, body="We answer every day, 8:00 to 20:00.")
    summary = await kb.import_articles([edited, PASSWORD])
    assert summary == ImportSummary(("reset-password",), ("opening-hours",), ())
    current = await kb.article("opening-hours")
    assert current is not None
    assert (current.version, current.article.body) == (2, edited.body)
    first = await kb.article("opening-hours", 1)
    assert first is not None and first.article.body == HOURS.body  # answers quoted it
    tags_only = replace(edited, tags=("hours", "weekend"))
    assert (await kb.import_articles([tags_only])).updated == ("opening-hours",)
    newest = await kb.article("opening-hours")
    assert newest is not None and (newest.version, newest.article.tags) == (3, tags_only.tags)


async def test_a_draft_answers_nobody_until_it_is_published(engine: AsyncEngine) -> None:
    kb = KnowledgeBase(engine)
    await kb.import_articles([HOURS])
    draft = await kb.save_draft(PASSWORD, "ria")
    assert (draft.state, draft.version, draft.created_by) == ("draft", 1, "ria")
    assert [a.id for a in await kb.published()] == ["opening-hours"]
    published = await kb.publish("reset-password")
    assert (published.state, published.version) == ("published", 1)
    assert [a.id for a in await kb.published()] == ["opening-hours", "reset-password"]


async def test_an_edit_of_a_published_article_waits_for_publishing(engine: AsyncEngine) -> None:
    kb = KnowledgeBase(engine)
    await kb.import_articles([HOURS])
    await kb.save_draft(replace(HOURS, body="Open on Sundays too."), "ria")
    in_force = (await kb.published())[0]
    assert (in_force.version, in_force.latest_version) == (1, 2)
    assert in_force.article.body == HOURS.body  # still answering with what was published
    await kb.publish("opening-hours")
    now_in_force = (await kb.published())[0]
    assert (now_in_force.version, now_in_force.article.body) == (2, "Open on Sundays too.")


async def test_a_retired_article_stays_retired_while_its_file_is_unchanged(
    engine: AsyncEngine,
) -> None:
    kb = KnowledgeBase(engine)
    await kb.import_articles([HOURS, PASSWORD])
    await kb.retire("opening-hours")
    with pytest.raises(Conflict):
        await kb.retire("opening-hours")
    assert [a.id for a in await kb.published()] == ["reset-password"]
    assert (await kb.import_articles([HOURS])).unchanged == ("opening-hours",)
    retired = await kb.article("opening-hours")
    assert retired is not None and retired.state == "retired"
    with pytest.raises(NotFound):
        await kb.publish("no-such-article")
    assert await kb.article("no-such-article") is None
