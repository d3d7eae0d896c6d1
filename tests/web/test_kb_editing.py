"""The editor's checks shared by the pages and the API: who publishes, what a form holds."""

from __future__ import annotations

import pytest

from inbox.errors import ArticleError
from inbox.kb.articles import Article
from inbox.store.accounts import Agent
from inbox.store.kb import StoredArticle
from inbox.web.kb_editing import (
    ArticleFields,
    article_from,
    fields_from_form,
    fields_from_json,
    may_publish,
    slug,
)


def _stored(team: str | None) -> StoredArticle:
    article = Article(id="a", title="A", body="Text.", team=team)
    return StoredArticle(article, 1, "draft", 1, "ada", 0.0)


def test_supervisors_publish_their_teams_articles_and_admins_any() -> None:
    agent = Agent(1, "ada", ("orders",))
    supervisor = Agent(2, "sue", ("orders",), role="supervisor")
    admin = Agent(3, "al", (), role="admin")
    assert not may_publish(agent, _stored("orders"))
    assert may_publish(supervisor, _stored("orders"), _stored(None))
    assert not may_publish(supervisor, _stored("orders"), _stored("billing"))  # moved teams
    assert may_publish(admin, _stored("billing"))


def test_form_fields_become_an_article() -> None:
    form = {
        "title": "  Gift\ncards ",
        "body": "They never expire.\r\n",
        "team": "orders",
        "tags": "cards, gifts, ,cards",
        "questions": "Do gift cards expire?\r\n\r\nHow long is a gift card valid?",
    }
    article = article_from(fields_from_form(form), ["orders"])
    assert article == Article(
        id="gift-cards",
        title="Gift cards",
        body="They never expire.",
        team="orders",
        tags=("cards", "gifts"),
        questions=("Do gift cards expire?", "How long is a gift card valid?"),
    )
    assert article_from(ArticleFields("x", "y"), [], "kept-id").id == "kept-id"
    for bad, why in [
        (ArticleFields("", "body"), "title is required"),
        (ArticleFields("T", "body", article_id="Not An Id"), "must be lower-case"),
        (ArticleFields("T", "body", language="english"), "two-letter"),
        (ArticleFields("T", "body", questions=tuple(f"q{i}" for i in range(51))), "at most 50"),
    ]:
        with pytest.raises(ArticleError, match=why):
            article_from(bad, ["orders"])
    with pytest.raises(ArticleError, match="'tags' must be a list"):
        fields_from_json({"title": "T", "body": "b", "tags": "x"})
    assert slug("¿Dónde está mi pedido?") == "d-nde-est-mi-pedido"
    assert slug("!!!") == "article"
